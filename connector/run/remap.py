"""Map the stored payloads again with other mapping files, inside the caller's transaction (what-if).

Every stream whose mapping keeps the payload (`raw`) is read back from its table and written again
through the pull's own writer (`connector.pull.pages.RecordWriter`), so the rows are exactly what a
pull with those mappings would have stored. Tax ids and bank numbers were never stored (the payload
kept is the redacted one), so the columns derived from them keep their stored values.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connector.context import RunContext
from connector.mapping import load_mappings
from connector.mapping.privacy import bank_columns, tax_id_columns
from connector.pull.pages import RecordWriter, _models_by_table
from connector.pull.stats import StreamStats

_SECRET_COLUMNS = tuple(tax_id_columns(None, "k")) + tuple(bank_columns(None, None, None, "k"))


def remap_stored(session: Session, ctx: RunContext) -> dict[str, int]:
    """Payloads mapped again per stream (`ctx.settings.mappings.dir` names the files)."""
    mappings = load_mappings(ctx.settings)
    writer = RecordWriter(ctx, mappings)
    models = _models_by_table()
    done: dict[str, int] = {}
    for source, mapping in sorted(mappings.streams.items()):
        model: Any = models.get(mapping.table)
        if not mapping.has_raw or model is None or not hasattr(model, "raw"):
            continue
        key = getattr(model, mapping.key_field)
        secrets = [c for c in _SECRET_COLUMNS if hasattr(model, c)]
        kept = {row[0]: row[1:] for row in session.execute(select(key, *(getattr(model, c) for c in secrets)))}
        payloads = [raw for (raw,) in session.execute(select(model.raw).order_by(key)) if isinstance(raw, dict)]
        writer.write(session, source, payloads, StreamStats())
        for k, values in kept.items():
            if secrets:
                session.execute(update(model).where(key == k).values(dict(zip(secrets, values, strict=True))))
        done[source] = len(payloads)
    return done

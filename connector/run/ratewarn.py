"""After compute: say loudly when a rate cannot be found (programs.md, "A rate that cannot be found is loud").

A `rates.by_group` key that matches no PartnerStack group is a warning in the log (naming the key and
the closest group slug), a run note (the summary's top reads the findings) and a finding of the run
(`rate_key_unmatched`, counted in `/metrics` as `connector_findings{kind}`); each `rate_unknown`
finding compute wrote (a partner whose group has no rate) is logged as a warning too.
"""

from __future__ import annotations

import logging

from sqlalchemy import insert, select

from connector.context import RunContext
from connector.rules.program import Program
from connector.rules.ratekeys import RATE_KEY_UNMATCHED, RATE_UNKNOWN, unmatched_rate_keys
from connector.store.models import Finding, Group

log = logging.getLogger(__name__)


def warn_unknown_rates(ctx: RunContext, program: Program) -> int:
    """Log, note and record every unmatched rate key and every `rate_unknown` finding; how many warnings."""
    warnings = 0
    with ctx.sessions() as session, session.begin():
        slugs = {s for s in session.scalars(select(Group.slug)) if s}
        unmatched = unmatched_rate_keys(program.rates.by_group, slugs) if slugs else []
        rows = []
        for key in unmatched:
            message = key.message(program.name)
            log.warning(message, extra={"run_id": ctx.run_id, "rate_key": key.key, "suggestion": key.suggestion})
            ctx.notes.append(f"WARNING {message}")
            rows.append({"run_id": ctx.run_id, "program": program.name, "subject_key": f"rates.by_group.{key.key}",
                         "code": RATE_KEY_UNMATCHED, "detail": message})  # fmt: skip
        if rows:
            session.execute(insert(Finding), rows)
        unknown = session.execute(select(Finding.subject_key, Finding.detail).where(
            Finding.run_id == ctx.run_id, Finding.program == program.name, Finding.code == RATE_UNKNOWN)).all()
        for subject, detail in unknown:
            log.warning(f"rate_unknown: {subject}: {detail}", extra={"run_id": ctx.run_id, "subject": subject})
        if unknown:
            ctx.notes.append(f"WARNING {len(unknown)} submission(s) of {program.name} have no rate for their "
                             f"partner's group: their entries are held rate_unknown, not paid")  # fmt: skip
        warnings = len(rows) + len(unknown)
    return warnings

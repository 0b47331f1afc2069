"""Loading a world into a ``State`` one record at a time, without a scenario document.

Why: ``load_scenario`` needs the whole document in memory, then normalizes a copy of every record,
so a large generated world (1.2 million invoices) would exist twice as dicts before the sandbox
packs it. A generator can instead hand each record over as it makes it: it is normalized exactly as
``load_scenario`` would, packed, and dropped.

The records must be plain JSON values (dicts, lists, str, int, bool, None, ``Decimal``): they are
packed without the exactness check. An invoice payment that needs its invoice (for ``paid_at``)
finds it among the last invoices handed over, so a generator should send an invoice before its
payments; otherwise the invoice is looked up in the stored list, which is correct but slow.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

from . import normalize_partnerstack as ps_norm
from . import normalize_stripe as st_norm
from .gcutil import paused_gc
from .state import State

_RECENT_INVOICES = 1024


class StreamLoader:
    """Feeds records into ``state``; call ``finish`` once the last one is in."""

    def __init__(self, state: State, default_created_ms: int | None) -> None:
        """``default_created_ms``: what ``load_scenario`` would take, the earliest time in the world."""
        self.state = state
        self.default_ms = default_created_ms
        self.default_s = default_created_ms // 1000 if default_created_ms is not None else None
        self.counts: Counter[str] = Counter()
        self._recent: dict[Any, Any] = {}

    def _invoice(self, ident: Any) -> Any:
        try:
            found = self._recent.get(ident)
        except TypeError:
            return None
        return found if found is not None else self.state.stripe["invoices"].get(ident)

    def add(self, system: str, section: str, record: Any) -> None:
        """One record of ``partnerstack.<section>`` or ``stripe.<section>``; unknown sections are ignored."""
        self.counts[f"{system}.{section}"] += 1
        if system == "partnerstack" and section in ps_norm.TYPES:
            self.state.partnerstack[section].add(ps_norm.normalize(record, self.default_ms, section), trusted=True)
        elif system == "stripe" and section == "charges":
            self.state.given_charges.append(record)
        elif system == "stripe" and section in st_norm.TYPES:
            obj = st_norm.normalize(st_norm.TYPES[section], record, self.default_s, self._invoice)
            if section == "invoices" and isinstance(obj, dict):
                if len(self._recent) >= _RECENT_INVOICES:
                    self._recent.clear()
                with contextlib.suppress(TypeError):  # an unhashable id: never a payment's invoice
                    self._recent[obj.get("id")] = obj
            self.state.stripe[section].add(obj, trusted=True)

    def finish(self, finance: dict[str, Any] | None = None) -> State:
        """Derive the charges, sort and index every list now rather than on the first request."""
        self._recent.clear()
        state = self.state
        with paused_gc():
            if finance is not None:
                state.finance = dict(finance)
            state.rebuild_charges()
            state.emit_world_events()  # the ``*.created`` events of the last 30 days (``world_events.py``)
            for collection in [*state.partnerstack.values(), *state.stripe.values()]:
                collection.entries()
        return state

"""What went out for each entry and what came back; what a whole push did; its progress."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from connector.context import RunContext


@dataclass(frozen=True)
class Outgoing:
    """An entry marked `sending` (step 1) with the body step 2 sends."""

    entry_key: str
    partner_key: str
    currency: str
    amount_minor: int
    body: dict[str, Any]


@dataclass
class Answer:
    """What came back for one entry: the platform's key, a 4xx rejection, or nothing (never sent)."""

    outgoing: Outgoing
    platform_key: str | None = None
    rejection: str | None = None


@dataclass
class CurrencyTotals:
    """Pushed amounts in minor units; negatives (clawbacks) kept apart so both stay counters."""

    positive: int = 0
    negative: int = 0

    @property
    def net(self) -> int:
        return self.positive - self.negative


NOTED = 20
"""Refusals and holds a push keeps the text of (the run's notes name the first ones; the counts count all)."""


@dataclass
class PushResult:
    pushed: int = 0  # sent and accepted in this run
    recovered: int = 0  # found already on the platform after an interrupted push
    failed: int = 0  # refused with a 4xx; still payable, `push_state = "refused"`, reason in `push_error`
    statuses_read: int = 0  # entries whose platform status changed (read back from the pulled rewards)
    held: int = 0  # not sent: the destination holds them (`Held`), reasons in `holds`
    amounts: dict[str, CurrencyTotals] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # the first `NOTED` refusals, as they came
    holds: list[str] = field(default_factory=list)  # the `NOTED` first distinct holds in sort order

    def hold(self, entry_key: str, reason: str) -> None:
        """Count a held entry; keep its note only while it is among the first `NOTED` in sort order
        (what the run's notes show): a push holds every entry awaiting its FX rate again each run,
        a list of all of them grew with the ledger."""
        self.held += 1
        note = f"{entry_key}: {reason}"
        if note in self.holds or (len(self.holds) >= NOTED and note > self.holds[-1]):
            return
        bisect.insort(self.holds, note)
        del self.holds[NOTED:]

    def add_amount(self, currency: str, amount_minor: int) -> None:
        totals = self.amounts.setdefault(currency, CurrencyTotals())
        if amount_minor >= 0:
            totals.positive += amount_minor
        else:
            totals.negative += -amount_minor

    def count_sent(self, answers: Iterable[Answer]) -> None:
        """Tally a batch's answers: accepted ones and their amounts, rejected ones and why."""
        for answer in answers:
            if answer.platform_key is not None:
                self.pushed += 1
                self.add_amount(answer.outgoing.currency, answer.outgoing.amount_minor)
            elif answer.rejection is not None:
                self.failed += 1
                if len(self.errors) < NOTED:
                    self.errors.append(f"{answer.outgoing.entry_key}: {answer.rejection}")


class Progress:
    """Counts finished entries across worker threads and reports them through the run's hook."""

    def __init__(self, ctx: RunContext, total: int) -> None:
        self.hook: Callable[[str, int, int | None], None] | None = ctx.progress
        self.total = total
        self.done = 0
        self.lock = threading.Lock()

    def step(self) -> None:
        with self.lock:
            self.done += 1
            if self.hook is not None:
                self.hook("push", self.done, self.total)

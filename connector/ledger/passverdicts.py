"""The per-submission state of one compute pass, kept in temporary tables of the pass's connection.

Why: qualification is global (a duplicate is judged against every earlier submission, whatever its
customer), so a pass that held its candidates, the index of each identifier's first holder, every
verdict and the customer -> billing customer map in Python grew by about 0.7 kB per customer key
(~260 MB at L). Here that state lives in the database and Python holds one page of candidates, or
one batch's verdicts, at a time:

- `tmp_pass_candidates`: every PartnerStack customer, lead and deal as read (`add_candidates`), then
  linked (`link`) as `build_submissions` links them: a lead or deal to the *last* customer read with
  its key (a dict filled in read order finds that one), the customers a lead points at left out;
- `tmp_pass_subs`: the submissions numbered in submission order (`pos`): submitted time, NULL last,
  then key, ties in the order `build_submissions` lists them (its sort is stable);
- `tmp_pass_first`: per identifier (billing customer, domain, normalised name) its first holder's
  position and key: a candidate holding one an earlier submission holds is a duplicate, and the
  earliest such holder is its `Verdict.earlier`, exactly as `qualify`'s in-memory index finds them;
- `tmp_pass_verdicts`: the verdicts as judged (`add_verdicts`), read back per batch;
- `tmp_pass_billing`: customer key -> billing customer, the last verdict's (as a dict comprehension
  over the verdicts in order keeps it);
- `tmp_pass_batches`: customer key -> its batch, cut in the order `_customer_batches` cut them.

Orders are Python's: keys compare by code point (SQLite's BINARY collation on UTF-8 does; on
PostgreSQL every ORDER BY names the "C" collation), times as stored (naive UTC, fixed width on
SQLite). Statement texts do not depend on the data (pages of a fixed size, keyset by position), so
the prepared-statement caches hold a fixed handful.

Temporary tables belong to their connection: a pass runs in one transaction on one connection
(`compute_in`'s session). `PassTables.open` creates them empty (dropping any a failed pass left on a
pooled connection) and drops them when the pass ends; nothing survives a pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from connector.rules.facts import Facts
from connector.rules.qualification import Candidate, Submission, Unlinked, Verdict
from connector.rules.reads.facts import event_payments_stmts, first_paid_stmt
from connector.rules.reads.sql import in_lists
from connector.store.driverrows import DriverStatement, driver_statement
from connector.store.models import LedgerEntry, UTCDateTime

PAGE = 1_000
"""Rows inserted or read back at a time."""

LEAD, CUSTOMER, DEAL = 0, 1, 2  # `Unlinked`'s groups: `build_submissions` lists leads, then customers, then deals
BILLING, DOMAIN, NAME = 0, 1, 2  # kinds of identifier

_meta = MetaData()


def _submission_columns() -> list[Column[Any]]:
    return [
        Column("key", String, nullable=False),
        Column("type", String, nullable=False),
        Column("submitted_at", UTCDateTime()),
        Column("partner_key", String),
        Column("customer_key", String),
        Column("referral_key", String),
        Column("billing", String),
        Column("deal_at", Integer),  # the deal's index in `Facts.deals`
    ]


def _checked_columns() -> list[Column[Any]]:
    """What only the checks read of a candidate (`Candidate`'s fields beyond `Submission`'s)."""
    return [
        Column("test", Boolean, nullable=False),
        Column("domain", String),
        Column("name", String),
        Column("consent", Boolean),
    ]


_candidates = Table(
    "tmp_pass_candidates", _meta,
    Column("seq", Integer, primary_key=True, autoincrement=False),  # read order
    Column("grp", Integer, nullable=False),
    *_submission_columns(),
    *_checked_columns(),
    Column("link", String),  # a lead's or deal's external key; a customer's own customer key
    Column("provider", String),  # a customer's billing customer, as a deal finds it
    Column("linked", Integer),  # the seq of the customer a lead or deal is linked to
    Index("ix_tmp_pass_candidates_link", "grp", "link"),
    Index("ix_tmp_pass_candidates_provider", "grp", "provider"),
    prefixes=["TEMPORARY"],
)  # fmt: skip
_subs = Table(
    "tmp_pass_subs", _meta,
    Column("pos", Integer, primary_key=True, autoincrement=False),
    *_submission_columns(),
    *_checked_columns(),
    Index("ix_tmp_pass_subs_customer", "customer_key"),
    Index("ix_tmp_pass_subs_key", "key"),
    prefixes=["TEMPORARY"],
)  # fmt: skip
_first = Table(
    "tmp_pass_first", _meta,
    Column("kind", Integer, primary_key=True, autoincrement=False),
    Column("value", String, primary_key=True),
    Column("pos", Integer, nullable=False),
    Column("key", String, nullable=False),
    prefixes=["TEMPORARY"],
)  # fmt: skip
_verdicts = Table(
    "tmp_pass_verdicts", _meta,
    Column("pos", Integer, primary_key=True, autoincrement=False),  # the submission's in `tmp_pass_subs`
    Column("decision", String, nullable=False),
    Column("reason", String),
    Column("earlier", String),
    prefixes=["TEMPORARY"],
)  # fmt: skip
_billing = Table(
    "tmp_pass_billing", _meta,
    Column("customer_key", String, primary_key=True),
    Column("billing", String, nullable=False),
    prefixes=["TEMPORARY"],
)  # fmt: skip
_scope = Table(
    "tmp_pass_scope", _meta,
    Column("customer_key", String),  # NULL: entries without a customer
    prefixes=["TEMPORARY"],
)  # fmt: skip
_rest = Table(
    "tmp_pass_rest", _meta,
    Column("customer_key", String),
    prefixes=["TEMPORARY"],
)  # fmt: skip
_batches = Table(
    "tmp_pass_batches", _meta,
    Column("customer_key", String),  # NULL: entries without a customer
    Column("billing", String),
    Column("batch", Integer, nullable=False),
    Index("ix_tmp_pass_batches_batch", "batch"),
    Index("ix_tmp_pass_batches_customer", "customer_key"),
    prefixes=["TEMPORARY"],
)  # fmt: skip
_paid = Table(
    "tmp_pass_first_paid", _meta,
    Column("customer_id", String, primary_key=True),
    Column("paid_at", UTCDateTime()),
    Column("paid_later", UTCDateTime()),
    Column("created_later", UTCDateTime()),
    prefixes=["TEMPORARY"],
)  # fmt: skip
_events = Table(
    "tmp_pass_event_payments", _meta,
    Column("customer_id", String, nullable=False),
    Column("n", Integer, nullable=False),  # 0: a payment intent, 1: a charge
    Column("value", String, nullable=False),
    Index("ix_tmp_pass_event_payments_customer", "customer_id"),
    prefixes=["TEMPORARY"],
)  # fmt: skip
_DRIVER: dict[tuple[str, tuple[str, ...]], DriverStatement | None] = {}  # SQLite's statements, per column set
_TABLES = (_candidates, _subs, _first, _verdicts, _billing, _scope, _rest, _batches, _paid, _events)


@dataclass
class Batch:
    """One batch's customer keys, their billing customers, and its verdicts in submission order: the
    qualified ones, and the rejected ones with a partner (what a take-back can be for)."""

    keys: set[str | None]
    billing_of: dict[str, str]
    qualified: list[Verdict] = field(default_factory=list)
    rejected: list[Verdict] = field(default_factory=list)


class PassTables:
    """The temporary tables of one pass (see the module docstring); `open` makes and drops them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._postgres = session.get_bind().dialect.name == "postgresql"
        self._none_batch: int | None = None  # the batch of entries without a customer key, if any
        self.batches = 0

    @classmethod
    @contextmanager
    def open(cls, session: Session) -> Iterator[PassTables]:
        tables = cls(session)
        tables._drop(if_exists=True)
        conn = session.connection()
        for table in _TABLES:
            table.create(conn)
        yield tables
        tables._drop(if_exists=False)  # not after an error: the rollback undoes the creates (or the next open drops)

    def _drop(self, *, if_exists: bool) -> None:
        schema = "pg_temp" if self._postgres else "temp"
        conn = self.session.connection()
        for table in reversed(_TABLES):
            conn.execute(text(f"DROP TABLE {'IF EXISTS ' if if_exists else ''}{schema}.{table.name}"))

    def _ordered(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """`column` as an ORDER BY term that orders strings by code point, as Python does."""
        return column.collate("C") if self._postgres else column

    def _insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """`rows` into `table`; on SQLite as parameter tuples straight to the driver's executemany
        (`connector.store.driverrows`: SQLAlchemy's own executemany builds every row's parameters one
        row at a time, which for a pass's candidates and verdicts cost more than SQLite's inserts)."""
        if not rows:
            return
        if not self._postgres:
            cols = tuple(rows[0])
            key = (table.name, cols)
            if key not in _DRIVER:
                _DRIVER[key] = driver_statement(insert(table), cols, self.session.get_bind().dialect)
            driver = _DRIVER[key]
            if driver is not None:
                self.session.connection().exec_driver_sql(driver.sql, driver.parameters(rows))
                return
        self.session.execute(insert(table), rows)

    def _analyze(self, *tables: Table) -> None:
        """PostgreSQL never analyzes temporary tables by itself: without statistics it plans their joins
        for a handful of rows."""
        if self._postgres:
            for table in tables:
                self.session.connection().execute(text(f"ANALYZE {table.name}"))

    # ------------------------------------------------------------ per billing customer aggregates

    def keep_customer_facts(self, facts: Facts) -> None:
        """What `load_global(per_customer=False)` left out, into the tables: each billing customer's first
        paid time and the payments some refund or dispute names. Notes when qualification can next turn
        (the earliest payment or invoice after as-of), as `load_global` does."""
        conn = self.session.connection()
        p = _paid.c
        conn.execute(
            insert(_paid).from_select(
                ["customer_id", "paid_at", "paid_later", "created_later"], first_paid_stmt(facts.as_of)
            )
        )
        paid_later, created_later = conn.execute(select(func.min(p.paid_later), func.min(p.created_later))).one()
        facts.note_global(paid_later)
        facts.note_global(created_later)
        for n, stmt in enumerate(event_payments_stmts()):
            value, customer_id = stmt.subquery().c
            conn.execute(
                insert(_events).from_select(
                    ["customer_id", "n", "value"], select(customer_id, literal(n, Integer), value)
                )
            )
        self._analyze(_paid, _events)

    def customer_facts(
        self, billing_ids: Sequence[str]
    ) -> tuple[dict[str, dt.datetime], dict[str, tuple[list[str], list[str]]]]:
        """`Facts.first_paid` and `Facts.event_payments` of these billing customers (a batch's)."""
        paid: dict[str, dt.datetime] = {}
        events: dict[str, tuple[list[str], list[str]]] = {}
        p, e = _paid.c, _events.c
        for chunk in in_lists(billing_ids):
            stmt = select(p.customer_id, p.paid_at).where(p.customer_id.in_(chunk), p.paid_at.is_not(None))
            paid.update((customer_id, at) for customer_id, at in self.session.execute(stmt))
            for customer_id, n, value in self.session.execute(
                select(e.customer_id, e.n, e.value).where(e.customer_id.in_(chunk))
            ):
                events.setdefault(customer_id, ([], []))[n].append(value)
        return paid, events

    # ------------------------------------------------------------ candidates, in submission order

    def add_candidates(self, rows: Iterable[Unlinked]) -> None:
        """Every candidate as read, in read order (`unlinked_candidates`)."""
        page: list[dict[str, Any]] = []
        for seq, (grp, c, link, provider, deal_at) in enumerate(rows):
            page.append({
                "seq": seq, "grp": grp, "key": c.key, "type": c.type, "submitted_at": c.submitted_at,
                "partner_key": c.partner.key if c.partner else None, "customer_key": c.customer_key,
                "referral_key": c.referral_key, "billing": c.billing_customer_id, "deal_at": deal_at,
                "test": c.test, "domain": c.domain, "name": c.company_name, "consent": c.consent,
                "link": link, "provider": provider, "linked": None,
            })  # fmt: skip
            if len(page) == PAGE:
                self._insert(_candidates, page)
                page = []
        self._insert(_candidates, page)

    def link(self, sources: Collection[str]) -> None:
        """Link leads and deals to their PartnerStack customers, keep the sources' submissions, number them
        in submission order and find each identifier's first holder."""
        conn = self.session.connection()
        self._analyze(_candidates)
        c, r = _candidates, _candidates.alias("r")
        last_customer = {  # the last customer read (highest seq) with the lead's customer key / the deal's billing
            LEAD: select(func.max(r.c.seq)).where(r.c.grp == CUSTOMER, r.c.link == c.c.link).scalar_subquery(),
            DEAL: select(func.max(r.c.seq)).where(r.c.grp == CUSTOMER, r.c.provider == c.c.link).scalar_subquery(),
        }
        for grp, linked in last_customer.items():
            conn.execute(c.update().where(c.c.grp == grp, c.c.link.is_not(None)).values(linked=linked))
        found = r.c.seq == c.c.linked
        conn.execute(
            c.update()
            .where(c.c.grp == LEAD, c.c.linked.is_not(None))
            .values(
                customer_key=select(r.c.key).where(found).scalar_subquery(),
                referral_key=select(r.c.key).where(found).scalar_subquery(),
                test=select(r.c.test).where(found).scalar_subquery(),
                billing=select(r.c.billing).where(found).scalar_subquery(),
            )
        )
        conn.execute(
            c.update()
            .where(c.c.grp == DEAL, c.c.linked.is_not(None))
            .values(
                referral_key=select(r.c.key).where(found).scalar_subquery(),
                test=select(r.c.test).where(found).scalar_subquery(),
            )
        )
        pointed = select(r.c.linked).where(r.c.grp == LEAD, r.c.linked.is_not(None))
        if "customers" in sources:
            conn.execute(c.delete().where(c.c.grp == CUSTOMER, c.c.seq.in_(pointed)))
        else:
            conn.execute(c.delete().where(c.c.grp == CUSTOMER))
        if "leads" not in sources:
            conn.execute(c.delete().where(c.c.grp == LEAD))
        order = [c.c.submitted_at.is_(None), c.c.submitted_at, self._ordered(c.c.key), c.c.grp, c.c.seq]
        names = [col.name for col in _subs.columns if col.name != "pos"]
        conn.execute(
            insert(_subs).from_select(
                ["pos", *names], select(func.row_number(type_=Integer).over(order_by=order), *(c.c[n] for n in names))
            )
        )
        conn.execute(c.delete())
        s = _subs.c
        held = union_all(*(
            select(literal(kind).label("kind"), column.label("value"), s.pos).where(column.is_not(None), column != "")
            for kind, column in ((BILLING, s.billing), (DOMAIN, s.domain), (NAME, s.name))
        )).subquery()  # fmt: skip
        firsts = (
            select(held.c.kind, held.c.value, func.min(held.c.pos).label("pos"))
            .group_by(held.c.kind, held.c.value)
            .subquery()
        )
        conn.execute(
            insert(_first).from_select(
                ["kind", "value", "pos", "key"],
                select(firsts.c.kind, firsts.c.value, firsts.c.pos, s.key).join(_subs, s.pos == firsts.c.pos),
            )
        )
        self._analyze(_subs, _first)

    def in_order(self, facts: Facts) -> Iterator[list[tuple[int, Candidate, str | None]]]:
        """Pages of candidates in submission order, each with its position and its first holder: the
        earliest earlier submission holding one of its identifiers (None: none), as `judge` takes them.

        `facts.first_paid` is set to the first paid times of the page's billing customers as each page
        is handed over (what `judge` reads of it: a pass keeps no map of every customer's)."""
        s = _subs.c
        holders = [_first.alias(f"f{kind}") for kind in (BILLING, DOMAIN, NAME)]
        stmt: Any = select(_subs, *(x for f in holders for x in (f.c.pos, f.c.key)), _paid.c.paid_at)
        stmt = stmt.select_from(_subs)
        for kind, f, column in zip((BILLING, DOMAIN, NAME), holders, (s.billing, s.domain, s.name), strict=True):
            stmt = stmt.outerjoin(f, and_(f.c.kind == kind, f.c.value == column, f.c.pos < s.pos))
        stmt = stmt.outerjoin(_paid, _paid.c.customer_id == s.billing)
        stmt = stmt.where(s.pos > bindparam("after")).order_by(s.pos).limit(PAGE)
        after = 0
        while rows := self.session.execute(stmt, {"after": after}).all():
            page = []
            facts.first_paid = {row[7]: row[-1] for row in rows if row[-1] is not None}
            for row in rows:
                (pos, key, type_, submitted_at, partner_key, customer_key, referral_key, billing, deal_at,
                 test, domain, name, consent, p1, k1, p2, k2, p3, k3, _) = row  # fmt: skip
                held = [(p, k) for p, k in ((p1, k1), (p2, k2), (p3, k3)) if p is not None]
                candidate = Candidate(
                    key, type_, submitted_at, facts.partners[partner_key] if partner_key else None, customer_key,
                    referral_key, bool(test), billing, domain, name, consent,
                    facts.deals[deal_at] if deal_at is not None else None,
                )  # fmt: skip
                page.append((pos, candidate, min(held)[1] if held else None))
            after = rows[-1][0]
            yield page

    # ------------------------------------------------------------ verdicts

    def add_verdicts(self, verdicts: list[tuple[int, Verdict]]) -> None:
        """Verdicts by their submissions' positions (the submission's own columns are already there)."""
        rows = [{"pos": pos, "decision": v.decision, "reason": v.reason, "earlier": v.earlier} for pos, v in verdicts]
        self._insert(_verdicts, rows)

    def judged_keys(self) -> Any:
        """The judged submissions' keys, as a subquery (what `write_decisions` keeps)."""
        return select(_subs.c.key).join(_verdicts, _verdicts.c.pos == _subs.c.pos)

    def finish_verdicts(self) -> None:
        """Every verdict is in: the customer -> billing customer table, from the last submission of each."""
        s = _subs.c
        truthy = and_(s.customer_key.is_not(None), s.customer_key != "", s.billing.is_not(None), s.billing != "")
        last = select(func.max(s.pos).label("pos")).where(truthy).group_by(s.customer_key).subquery()
        conn = self.session.connection()
        conn.execute(
            insert(_billing).from_select(
                ["customer_key", "billing"], select(s.customer_key, s.billing).join(last, last.c.pos == s.pos)
            )
        )
        self._analyze(_verdicts, _billing)

    _VERDICT = (
        *(_subs.c[name] for name in ("pos", "key", "type", "submitted_at", "partner_key", "customer_key",
                                     "referral_key", "billing", "deal_at")),
        _verdicts.c.decision, _verdicts.c.reason, _verdicts.c.earlier,
    )  # fmt: skip

    def _verdict(self, row: Any, facts: Facts) -> Verdict:
        (_, key, type_, submitted_at, partner_key, customer_key, referral_key, billing, deal_at,
         decision, reason, earlier) = row  # fmt: skip
        submission = Submission(
            key, type_, submitted_at, facts.partners[partner_key] if partner_key else None, customer_key, referral_key,
            billing, facts.deals[deal_at] if deal_at is not None else None,
        )  # fmt: skip
        return Verdict(submission, decision, reason, earlier)

    def _judged(self) -> Any:
        return select(*self._VERDICT).join(_verdicts, _verdicts.c.pos == _subs.c.pos)

    def verdicts(self, facts: Facts, *, qualified: bool = False) -> Iterator[Verdict]:
        """Every verdict (or every qualified one) in submission order, a page at a time."""
        stmt = self._judged().where(_subs.c.pos > bindparam("after"))
        if qualified:
            stmt = stmt.where(_verdicts.c.decision == "qualified")
        stmt = stmt.order_by(_subs.c.pos).limit(PAGE)
        after = 0
        while rows := self.session.execute(stmt, {"after": after}).all():
            for row in rows:
                yield self._verdict(row, facts)
            after = rows[-1][0]

    def billing_pairs(self) -> Iterator[tuple[str, str]]:
        """Every (customer key, billing customer) of the pass, a page at a time."""
        b = _billing.c
        stmt = select(b.customer_key, b.billing).where(self._ordered(b.customer_key) > bindparam("after"))
        stmt = stmt.order_by(self._ordered(b.customer_key)).limit(PAGE)
        after = ""
        while rows := self.session.execute(stmt, {"after": after}).all():
            yield from ((key, billing) for key, billing in rows)
            after = rows[-1][0]

    # ------------------------------------------------------------ batches

    def cut_batches(self, program: str, size: int, scope: Collection[str | None] | None) -> int:
        """Number the customers' batches as `_customer_batches` cut them; returns how many.

        `size` billing customers at a time, by billing id, every customer key of each (of `scope` only,
        given one); then, `size` at a time by key (None first), the keys without a billing customer: the
        qualified submissions' and the ledger's (or `scope`'s)."""
        conn = self.session.connection()
        b = _billing.c
        billed = select(b.customer_key, b.billing)
        if scope is not None:
            rows = [{"customer_key": k} for k in scope]
            for i in range(0, len(rows), PAGE):
                self._insert(_scope, rows[i : i + PAGE])
            scoped = select(_scope.c.customer_key).where(_scope.c.customer_key.is_not(None))
            billed = billed.where(b.customer_key.in_(scoped))
        ranked = billed.add_columns(
            ((func.dense_rank().over(order_by=self._ordered(b.billing)) - 1) // size).label("batch")
        )
        conn.execute(insert(_batches).from_select(["customer_key", "billing", "batch"], ranked))
        offset = conn.execute(select(func.coalesce(func.max(_batches.c.batch) + 1, 0))).scalar_one()
        unbilled = ~exists().where(_billing.c.customer_key == _rest.c.customer_key)
        if scope is None:
            e = LedgerEntry
            conn.execute(
                insert(_rest).from_select(
                    ["customer_key"], select(e.customer_key).where(e.program == program).distinct()
                )
            )
            qualified = self._judged().where(_verdicts.c.decision == "qualified").subquery()
            conn.execute(insert(_rest).from_select(["customer_key"], select(qualified.c.customer_key)))
        else:
            conn.execute(insert(_rest).from_select(["customer_key"], select(_scope.c.customer_key)))
        keys = select(_rest.c.customer_key).where(unbilled).distinct().subquery()
        order = [keys.c.customer_key.is_not(None), self._ordered(keys.c.customer_key)]
        rest = select(
            keys.c.customer_key,
            literal(None, String),
            offset + (func.row_number(type_=Integer).over(order_by=order) - 1) // size,
        )
        conn.execute(insert(_batches).from_select(["customer_key", "billing", "batch"], rest))
        self._analyze(_batches)
        self._none_batch = conn.execute(select(_batches.c.batch).where(_batches.c.customer_key.is_(None))).scalar()
        self.batches = conn.execute(select(func.coalesce(func.max(_batches.c.batch) + 1, 0))).scalar_one()
        return self.batches

    def customers(self) -> int:
        """How many customer keys the batches hold."""
        return self.session.execute(select(func.count()).select_from(_batches)).scalar_one()

    def batched_keys(self) -> set[str | None]:
        """Every customer key of the batches."""
        return set(self.session.scalars(select(_batches.c.customer_key)))

    def batched_submissions(self) -> set[str]:
        """The keys of the submissions whose customers the batches hold."""
        s = _subs.c
        out = set(self.session.scalars(select(s.key).join(_batches, _batches.c.customer_key == s.customer_key)))
        if self._none_batch is not None:
            out.update(self.session.scalars(select(s.key).where(s.customer_key.is_(None))))
        return out

    def batch(self, n: int, facts: Facts) -> Batch:
        """Batch `n`: its keys and billing customers, and its qualified and rejected verdicts."""
        bt = _batches.c
        rows = self.session.execute(select(bt.customer_key, bt.billing).where(bt.batch == bindparam("n")), {"n": n})
        out = Batch(set(), {})
        for key, billing in rows:
            out.keys.add(key)
            if key is not None and billing is not None:
                out.billing_of[key] = billing
        s, judged = _subs.c, _verdicts.c.decision != "open"
        stmt = (
            self._judged()
            .join(_batches, _batches.c.customer_key == s.customer_key)
            .where(bt.batch == bindparam("n"), judged)
            .order_by(s.pos)
        )
        found = list(self.session.execute(stmt, {"n": n}))
        if n == self._none_batch:
            found.extend(self.session.execute(self._judged().where(s.customer_key.is_(None), judged)).all())
            found.sort(key=lambda row: int(row[0]))
        for row in found:
            verdict = self._verdict(row, facts)
            if verdict.decision == "qualified":
                out.qualified.append(verdict)
            elif verdict.submission.partner is not None:
                out.rejected.append(verdict)
        return out

"""PartnerStack as the push destination: the documented reward body, the reward key, finding a reward again.

The outbox (`connector.push`) owns the exactly-once protocol and knows nothing of PartnerStack;
what it sends to the rewards API and reads back from it is shaped here. The body is the one
PartnerStack documents, `{"amount": <USD cents>, "description": "...", "target": {"key", "type"}}`,
filled from the entry as `mappings/partnerstack.toml` `[rewards]` says (`connector.mapping.outbound`).
PartnerStack keeps no field of ours but the description, so the description ends with the entry's
marker `[entry:<entry_key>]`: after a lost answer the reward is found by listing the target
customer's rewards since the attempt and reading that marker.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, Table, delete, func, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, aliased

from adapters.http import ConnectorHttpError
from adapters.partnerstack import PartnerStackClient
from adapters.partnerstack.deals import CustomersApi, DealCustomers
from connector.config import Settings
from connector.mapping.outbound import AMOUNT_FIELDS, RewardBody, load_reward_body
from connector.push import marks
from connector.push.destination import Held
from connector.push.pages import payable
from connector.rules.program import Program
from connector.rules.reads.sql import in_lists
from connector.store.driverrows import driver_statement
from connector.store.models import ENTRY_KEY_LENGTH, Deal, LedgerEntry, PlatformReward, Referral, RewardMarker
from connector.store.planner import note_rows_written
from connector.store.unnest import driver_sql, unnest_select

_ENTRY_TAG = re.compile(rf"\[entry:([^\]]{{1,{ENTRY_KEY_LENGTH}}})\]")
"""A marker names one of our entries by its key; one longer than any entry key (a description typed on the
platform, say) names none of them, and is not read as one: the marker index's column has the ledger
key's length, and PostgreSQL refuses a longer value, which would fail every rebuild of the index."""
REWARD_CURRENCY = "usd"  # PartnerStack documents rewards in USD cents only


class RewardsApi(CustomersApi, Protocol):
    """The calls a push makes (`PartnerStackClient` has them all)."""

    def list_rewards(
        self, min_created: dt.datetime | None = None, customer_key: str | None = None
    ) -> list[dict[str, Any]]: ...

    def create_reward(self, payload: dict[str, Any]) -> dict[str, Any]: ...


def entry_amount(entry: LedgerEntry, spec: RewardBody, currency: str = REWARD_CURRENCY) -> int | Held:
    """The reward's amount: the first amount field the entry has, if it is in the reward currency.

    An amount in another currency is never sent as if it were USD cents (¥10,000 is not $100.00).
    """
    for field in spec.amount:
        value = getattr(entry, field, None)
        if value is None:
            continue
        own = str(getattr(entry, AMOUNT_FIELDS[field], "") or "").lower()
        if own != currency:
            return Held(f"{own.upper()} entry: PartnerStack pays rewards in {currency.upper()} cents; "
                        f"held until the entry has a {currency.upper()} payout amount")
        return int(value)
    return Held("the entry has none of the amount fields the [rewards] mapping names")


def _is_deal(session: Session, entry: LedgerEntry, program: Program) -> Deal | None:
    key = entry.customer_key or ""
    if "deals" not in program.submissions.sources and session.get(Referral, key) is not None:
        return None
    return session.get(Deal, key)


class BodyBuilder:
    """Entry → documented body, as the `[rewards]` mapping says; deals resolved to their customers."""

    def __init__(self, spec: RewardBody, prefix: str, deals: DealCustomers, currency: str = REWARD_CURRENCY) -> None:
        self.spec, self.prefix, self.deals, self.currency = spec, prefix, deals, currency

    def target(self, session: Session, entry: LedgerEntry, program: Program) -> str | Held:
        key = getattr(entry, self.spec.target_key)
        if self.spec.target_key == "customer_key":
            deal = _is_deal(session, entry, program)
            if deal is not None:
                if self.spec.deals == "hold":
                    return Held(f"entry for deal {deal.key}: the [rewards] mapping holds deal entries")
                return self.deals.target(session, deal)
        return key if key else Held(f"the entry has no {self.spec.target_key} to target")

    def body(self, session: Session, entry: LedgerEntry, program: Program) -> dict[str, Any] | Held:
        amount = entry_amount(entry, self.spec, self.currency)
        if isinstance(amount, Held):
            return amount
        target = self.target(session, entry, program)
        if isinstance(target, Held):
            return target
        values = {"prefix": self.prefix, "kind": entry.kind, "program": entry.program,
                  "customer_key": entry.customer_key, "partnership_key": entry.partnership_key,
                  "entry_key": entry.entry_key, "note": entry.note}  # fmt: skip
        return {"amount": amount, "description": self.spec.describe(values),
                "target": {"key": target, "type": self.spec.target_type}}  # fmt: skip


def embedded_entry_keys(reward: dict[str, Any]) -> set[str]:
    """The entry keys a reward's description carries (`[entry:<key>]`)."""
    desc = reward.get("description")
    return set(_ENTRY_TAG.findall(desc)) if isinstance(desc, str) else set()


def reward_key(reward: dict[str, Any]) -> str:
    """PartnerStack's key of a reward (`key`, or `id` in older answers)."""
    key = reward.get("key") or reward.get("id")
    if not isinstance(key, str) or not key:
        raise ConnectorHttpError("PartnerStack POST /rewards: reward without a key")
    return key


_MARKER_CHUNK = 5_000
"""Rewards fetched at a time by a rebuild's one streamed read; their markers go in as one statement."""
_REBUILD_ABOVE = 20_000
"""Rewards stamped since the last pass above which the index is rebuilt instead (the same result): a
first sync after a backfill stamps every reward the backfill pushed, which one streamed read of the
table rebuilds rather than patching reward by reward (each fetched through the `changed_seq` index,
its markers deleted by key)."""


def refresh_markers(session: Session, *, store_wide: bool = False) -> int:
    """Bring the marker index up to date with the mirrored rewards; how many rewards it read.

    From the rewards stamped since its last pass (`connector.push.marks`): each one's markers are
    replaced by those its description carries now (none when it carries none). Without a mark,
    `store_wide`, or with more than `_REBUILD_ABOVE` rewards stamped since, the index is rebuilt from
    every reward whose description has a marker. Either way the index then holds exactly the markers
    of the rewards mirrored.

    The rebuild is one read of `ps_rewards` in the table's own order (SQLite's rowid order, a
    sequential scan on PostgreSQL; no ORDER BY, which would walk the key index and fetch each row
    from wherever it lies), streamed `_MARKER_CHUNK` rows at a time (`yield_per`: a server-side cursor
    on PostgreSQL), each chunk's markers inserted as one statement on the same connection while the
    read is open (SQLite reads one table while writing another; PostgreSQL keeps the cursor in the
    transaction). Memory stays one chunk, whatever the store's size.
    """
    run = marks.begin(session, marks.MARKERS, store_wide=store_wide)
    fresh = marks.stamped_since(run)
    if fresh and _more_than(session, fresh, _REBUILD_ABOVE):
        run = marks.Pass(run.name, None, run.tick)
    read = 0
    if run.store_wide:
        session.execute(delete(RewardMarker))
        described = select(PlatformReward.key, PlatformReward.description).where(
            PlatformReward.description.like("%[entry:%")
        )
        for chunk in session.connection().execute(described.execution_options(yield_per=_MARKER_CHUNK)).partitions():
            read += len(chunk)
            _insert_markers(session, chunk)
    else:
        for where in fresh:
            stamped = session.execute(select(PlatformReward.key, PlatformReward.description).where(where)).all()
            read += len(stamped)
            for keys in in_lists(sorted({key for key, _ in stamped})):
                session.execute(delete(RewardMarker).where(RewardMarker.reward_key.in_(keys)))
            _insert_markers(session, stamped)
    marks.done(session, run)
    return read


def _more_than(session: Session, conditions: Sequence[ColumnElement[bool]], limit: int) -> bool:
    """Whether more than `limit` rewards meet the conditions (disjoint), counting at most `limit` + 1
    of each, from the `changed_seq` index alone: the count stops there instead of walking every reward
    a backfill stamped."""
    total = 0
    for where in conditions:
        some = select(PlatformReward.changed_seq).where(where).limit(limit + 1 - total).subquery()
        total += session.scalar(select(func.count()).select_from(some)) or 0
        if total > limit:
            return True
    return False


def _insert_markers(session: Session, rows: Sequence[Any]) -> None:
    """The markers the rows' descriptions carry, inserted in (entry, reward) order (neighbouring index
    pages) as one statement per chunk: on PostgreSQL one INSERT over two arrays
    (`connector.store.unnest`), on SQLite the driver's executemany with ready tuples
    (`connector.store.driverrows`); SQLAlchemy's executemany built a dict and a parameter set per
    marker, about a third of a rebuild's CPU at M."""
    markers = sorted((entry_key, key) for key, description in rows
                     for entry_key in embedded_entry_keys({"description": description}))  # fmt: skip
    if not markers:
        return
    connection = session.connection()
    sql = _marker_sql(connection.dialect)
    if sql is None:
        connection.execute(insert(_MARKERS), [{"entry_key": e, "reward_key": r} for e, r in markers])
    elif connection.dialect.name == "postgresql":
        entry_keys, reward_keys = zip(*markers, strict=True)
        connection.exec_driver_sql(sql, {"c0": list(entry_keys), "c1": list(reward_keys)})
    else:
        connection.exec_driver_sql(sql, markers)
    note_rows_written(session, RewardMarker.__table__, len(markers))  # find_mirrored is planned from its size


_MARKERS = cast(Table, RewardMarker.__table__)
_MARKER_COLUMNS = ("entry_key", "reward_key")
_MARKER_SQL: dict[str, str | None] = {}


def _marker_sql(dialect: Dialect) -> str | None:
    """The driver's SQL inserting markers (both columns plain strings, bound as they are), or None
    where SQLAlchemy's own executemany runs it (another database, or a column its type processes)."""
    if dialect.name not in _MARKER_SQL:
        sql: str | None = None
        plain = all(_MARKERS.c[name].type._cached_bind_processor(dialect) is None for name in _MARKER_COLUMNS)
        if plain and dialect.name == "postgresql":
            source = unnest_select(_MARKERS, _MARKER_COLUMNS, dialect)
            sql = driver_sql(insert(_MARKERS).from_select(_MARKER_COLUMNS, source), _MARKER_COLUMNS, dialect)
        elif plain and dialect.name == "sqlite":
            driver = driver_statement(insert(_MARKERS), _MARKER_COLUMNS, dialect)
            if driver is not None and [name for name, _, _ in driver.slots] == list(_MARKER_COLUMNS):
                sql = driver.sql
        _MARKER_SQL[dialect.name] = sql
    return _MARKER_SQL[dialect.name]


def _preload(session: Session, entries: Sequence[LedgerEntry]) -> list[Any]:
    """Load what the body builder looks up into the session, so its `session.get`s cost no query.

    Returns the loaded objects: the identity map holds them weakly, the caller keeps them alive.
    """
    customers = {e.customer_key for e in entries if e.customer_key}
    loaded: list[Any] = []
    if customers:
        loaded += session.scalars(select(Referral).where(Referral.key.in_(customers)))
        loaded += session.scalars(select(Deal).where(Deal.key.in_(customers)))
    return loaded


def _by_target(bodies: Mapping[str, dict[str, Any]]) -> dict[str | None, set[str]]:
    """Entry keys grouped by the customer their reward targets (None: not a customer target)."""
    groups: dict[str | None, set[str]] = {}
    for entry_key, body in bodies.items():
        target = body.get("target") or {}
        customer = target.get("key") if target.get("type") == "customer" else None
        groups.setdefault(customer, set()).add(entry_key)
    return groups


class PartnerStackRewards:
    """Ledger entries as PartnerStack rewards: a `connector.push.Destination`."""

    name = "PartnerStack"

    def __init__(self, api: RewardsApi, *, description_prefix: str, concurrency: int,
                 spec: RewardBody, currency: str = REWARD_CURRENCY) -> None:  # fmt: skip
        self.api = api
        self.concurrency = concurrency
        self.builder = BodyBuilder(spec, description_prefix, DealCustomers(api), currency)

    @classmethod
    def from_settings(cls, settings: Settings, before_send: Callable[[], None] | None = None) -> PartnerStackRewards:
        """The destination a run pushes to, with its own client (`close` releases it); `before_send`
        runs right before each reward request leaves (the run's fence: it raises to stop it)."""
        ps = settings.partnerstack
        api = PartnerStackClient(settings)
        api.http.before_write = before_send
        return cls(
            api,
            description_prefix=ps.reward_description_prefix,
            concurrency=ps.push_concurrency,
            spec=load_reward_body(settings),
            currency=ps.reward_currency,  # programs.md "Payout currency"
        )

    def close(self) -> None:
        close = getattr(self.api, "close", None)
        if close is not None:
            close()

    def bodies(
        self, session: Session, entries: Sequence[LedgerEntry], program: Program
    ) -> list[dict[str, Any] | Held]:
        keep_alive = _preload(session, entries)
        bodies = [self.builder.body(session, entry, program) for entry in entries]
        del keep_alive
        return bodies

    def send(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.api.create_reward(body)

    def platform_key(self, answer: dict[str, Any]) -> str:
        return reward_key(answer)

    def find_mirrored(self, session: Session, program: str, *, store_wide: bool = False) -> dict[str, str]:
        """Entry key → reward key for the program's payable entries that a pulled reward's marker names
        while no entry records that reward (one's record was lost, e.g. a hand-deleted entry
        recomputed, or a crash between a reward's POST and its record): no request.

        Read through the marker index (`ps_reward_markers`), which this first brings up to date from
        the rewards stamped since its last pass (`refresh_markers`): so a run costs the rewards that
        changed plus the outbox, not a LIKE over every reward's description. Writes the index, in the
        caller's transaction. Of two unrecorded rewards naming one entry, the lowest key.
        """
        refresh_markers(session, store_wide=store_wide)
        recorder = aliased(LedgerEntry)
        recorded = select(recorder.entry_key).where(recorder.platform_reward_key == RewardMarker.reward_key)
        rows = session.execute(
            select(RewardMarker.entry_key, func.min(RewardMarker.reward_key))
            .join(LedgerEntry, LedgerEntry.entry_key == RewardMarker.entry_key)
            .join(PlatformReward, PlatformReward.key == RewardMarker.reward_key)
            .where(*payable(program), ~recorded.exists())
            .group_by(RewardMarker.entry_key)
        )
        return {entry_key: reward for entry_key, reward in rows}

    def find_pushed(self, bodies: Mapping[str, dict[str, Any]], since: dt.datetime) -> dict[str, str]:
        """Lists each target customer's rewards created since `since` and reads their markers."""
        found: dict[str, str] = {}
        for customer, wanted in _by_target(bodies).items():
            for reward in self.api.list_rewards(min_created=since, customer_key=customer):
                for key in embedded_entry_keys(reward) & wanted:
                    found.setdefault(key, reward_key(reward))
        return found

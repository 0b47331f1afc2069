"""`connector check`: can this configuration run? Airbyte's `check`, for this connector.

Each check makes at most a few cheap reads and writes nothing: the database is opened without
creating or migrating it, and the APIs see one authenticated GET each plus one small page of
every mapped stream. A check whose prerequisite failed says so instead of adding noise.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.config import ConfigError, Settings

if TYPE_CHECKING:
    from adapters.partnerstack.client import PartnerStackClient
    from adapters.stripe.client import StripeClient

SAMPLE_SIZE = 10  # records per stream the mapping check reads
FX_COLUMNS = ("date", "currency", "rate")


class CheckFailed(Exception):
    """One check did not pass; the message is its line."""


@dataclass(frozen=True)
class CheckLine:
    name: str
    ok: bool
    detail: str

    def render(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


@dataclass
class _Clients:
    partnerstack: PartnerStackClient
    stripe: StripeClient
    groups: list[dict[str, Any]] | None = None  # PartnerStack's groups, once credentials passed
    stripe_ok: bool = False


@dataclass
class CheckReport:
    lines: list[CheckLine] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(line.ok for line in self.lines)

    def run(self, name: str, check: Callable[[], str]) -> None:
        try:
            self.lines.append(CheckLine(name, True, check()))
        except (CheckFailed, ConfigError) as exc:
            self.lines.append(CheckLine(name, False, str(exc)))
        except Exception as exc:  # an upstream or I/O error: its first line is the reason
            text = str(exc).strip().splitlines()
            self.lines.append(CheckLine(name, False, text[0] if text else type(exc).__name__))


def check_database(settings: Settings) -> str:
    from connector.run.runner import DatabaseMissing, describe_database, open_engine
    from connector.store.db import head_revision

    try:
        open_engine(settings).dispose()
    except DatabaseMissing:
        return f"{describe_database(settings.database.url)}: no schema yet; sync and serve create it on start"
    return f"{describe_database(settings.database.url)} reachable, schema at {head_revision()}"


def check_roll_forward(settings: Settings) -> str:
    """The ledger's roll-forward to date ties out per currency (nothing paid is still owed, nothing
    booked is missing), the status history matches the ledger, and each closed month still renders
    the bytes kept when it was closed."""
    import datetime as dt

    from connector.report.closing import verify_closed
    from connector.report.period import Period
    from connector.report.periodfmt import equation
    from connector.report.rollforward import ledger_ties, roll_forward
    from connector.rules.program import load_program
    from connector.run.runner import DatabaseMissing, open_engine
    from connector.store.db import session_factory

    program = load_program(settings.program.file).name
    try:
        engine = open_engine(settings)
    except DatabaseMissing:
        return "no ledger yet"
    try:
        with session_factory(engine)() as session:
            ties = ledger_ties(session, program)
            far = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
            rf = roll_forward(session, program, Period("to date", dt.datetime(1970, 1, 1, tzinfo=dt.UTC), far))
            closed = verify_closed(session, program)
    finally:
        engine.dispose()
    if not ties:
        return f"{program}: no ledger entries yet"
    bad = [f"{t.currency}: ledger {t.ledger_minor}, history {t.booked_minor}, {t.unbooked} entr(ies) without "
           f"history, {t.stale} whose status is not their latest row's" for t in ties if not t.ties]  # fmt: skip
    bad += [f"{line.currency}: {equation(line)}" for line in rf.currencies if not line.ties]
    bad += [f"closed {month} no longer renders the bytes kept at its close" for month, same in closed if not same]
    if bad:
        raise CheckFailed("; ".join(bad))
    lines = "; ".join(f"{line.currency}: {equation(line)}" for line in rf.currencies)
    closes = f"; {len(closed)} closed month(s) reproduce byte for byte" if closed else ""
    return f"{program} ties out to the ledger ({lines}){closes}"


def check_partnerstack(clients: _Clients) -> str:
    groups: list[dict[str, Any]] = []
    for page in clients.partnerstack.iter_list("groups"):
        groups.extend(item for item in page if isinstance(item, dict))
    clients.groups = groups
    return f"keys accepted ({len(groups)} groups)"


def check_stripe(clients: _Clients) -> str:
    clients.stripe.list_page("customers", {"limit": 1})
    clients.stripe_ok = True
    return "key accepted"


def check_program(settings: Settings, clients: _Clients) -> str:
    from connector.rules.program import load_program

    program = load_program(settings.program.file)
    if clients.groups is None:
        raise CheckFailed("not checked against PartnerStack's groups: PartnerStack did not answer")
    from connector.rules.ratekeys import unmatched_rate_keys

    known = {str(g.get("slug")) for g in clients.groups}
    unknown = unmatched_rate_keys(program.rates.by_group, known)
    if unknown:
        named = ", ".join(k.key + (f" (did you mean {k.suggestion!r}?)" if k.suggestion else "") for k in unknown)
        raise CheckFailed(
            f"{settings.program.file}: rates.by_group names group(s) PartnerStack does not have: "
            f"{named} (it has: {', '.join(sorted(known)) or 'none'})"
        )
    return f"{program.name}: every group in rates.by_group exists in PartnerStack"


def _sample(clients: _Clients, source: str, stream: str) -> list[Any]:
    if source == "partnerstack":
        return list(next(iter(clients.partnerstack.iter_list(stream, {"limit": SAMPLE_SIZE})), []))
    from adapters.stripe.streams import STREAMS

    path = next((s.path for s in STREAMS if s.name == stream), stream)
    page, _more = clients.stripe.list_page(path, {"limit": SAMPLE_SIZE})
    return list(page)


def check_mappings(settings: Settings, clients: _Clients) -> str:
    from connector.mapping import RecordError, load_mappings

    mappings = load_mappings(settings)
    if clients.groups is None or not clients.stripe_ok:
        raise CheckFailed("not checked against sample pages: an API did not answer")
    key = settings.security.fingerprint_key.get_secret_value()
    mapped, reasons = 0, Counter[str]()
    for name, mapping in sorted(mappings.streams.items()):
        source, _, stream = name.partition(".")
        for payload in _sample(clients, source, stream):
            try:
                mapping.apply(payload, key)
                mapped += 1
            except RecordError as exc:
                reasons[f"{name}: {exc}"] += 1
    if reasons:
        worst = "; ".join(f"{reason} (x{n})" for reason, n in reasons.most_common(3))
        raise CheckFailed(f"{sum(reasons.values())} sample record(s) would be quarantined: {worst}")
    return f"{mapped} sample records of {len(mappings.streams)} streams mapped"


def _readable(path_text: str | None, setting: str) -> Path | None:
    if path_text is None:
        return None
    path = Path(path_text)
    if not path.is_file():
        raise CheckFailed(f"{setting} = {path_text}: file not found")
    return path


def check_costs(settings: Settings) -> str:
    from adapters.files.costs import read_marketing_costs

    path = _readable(settings.finance.marketing_costs_file, "finance.marketing_costs_file")
    if path is None:
        return "not set: no marketing costs are deducted"
    rows = read_marketing_costs(path)
    bad = sum(1 for row in rows if row.error)
    return f"{path}: {len(rows)} rows" + (f", {bad} would be quarantined" if bad else "")


def check_fx(settings: Settings) -> str:
    path = _readable(settings.finance.fx_rates_file, "finance.fx_rates_file")
    if path is None:
        return "not set"
    with path.open(newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh), [])
    missing = [c for c in FX_COLUMNS if c not in [h.strip() for h in header]]
    if missing:
        raise CheckFailed(f"{path}: missing column(s) {', '.join(missing)} (expected {','.join(FX_COLUMNS)})")
    return f"{path}: readable"


@contextmanager
def _clients(settings: Settings) -> Iterator[_Clients]:
    from adapters.partnerstack.client import PartnerStackClient
    from adapters.stripe.client import StripeClient

    clients = _Clients(PartnerStackClient(settings), StripeClient(settings))
    try:
        yield clients
    finally:
        clients.partnerstack.close()
        clients.stripe.close()


def run_checks(settings: Settings, config_source: str) -> CheckReport:
    """Every check in order; `ConfigError` (exit 2) only for keys that cannot be sent at all."""
    from connector.config import require_api_keys, require_fingerprint_key

    require_api_keys(settings)
    require_fingerprint_key(settings)
    report = CheckReport([CheckLine("config", True, config_source)])
    report.run("database", lambda: check_database(settings))
    report.run("roll-forward", lambda: check_roll_forward(settings))
    with _clients(settings) as clients:
        report.run("partnerstack", lambda: check_partnerstack(clients))
        report.run("stripe", lambda: check_stripe(clients))
        report.run("program", lambda: check_program(settings, clients))
        report.run("mappings", lambda: check_mappings(settings, clients))
    report.run("costs file", lambda: check_costs(settings))
    report.run("fx file", lambda: check_fx(settings))
    return report

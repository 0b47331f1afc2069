"""Payout currency (programs.md): an entry in another currency is paid in the reward currency at
finance's rate for its event date, rounded once, half up; with no rate it is held `fx_rate_missing`
until one arrives. Exact amounts, the .5 boundaries included."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from adapters.files.fx import FxFileError, read_fx_rates
from connector.ledger.compute import ComputeResult, compute
from connector.rules.payout import FxRate, PayoutRates, convert
from tests.rules.builders import REPO, context, entries, fx_settings, load_scenario, program, scenario_rows

FX_SCENARIO = REPO / "tests/scenarios/fx-consio.json"
GBP_ROWS = "2026-03-01,gbp,1.20\n2026-03-10,gbp,1.26845\n2026-03-11,gbp,1.40\n"
JPY_ROWS = "2026-03-12,jpy,0.0066702\n2026-04-01,jpy,0.0070\n"


@pytest.mark.parametrize(
    ("amount", "currency", "rate", "reward", "expected"),
    [
        (10000, "gbp", "1.26845", "usd", 12685),  # 12684.5 cents: half up
        (-10000, "gbp", "1.26845", "usd", -12685),  # a clawback: ties away from zero, as every entry
        (10000, "gbp", "1.26844", "usd", 12684),  # 12684.4
        (25000, "jpy", "0.0066702", "usd", 16676),  # ¥ has no minor unit: 25000 × 0.0066702 × 10² = 16675.5
        (10000, "jpy", "0.0067", "usd", 6700),  # ¥10,000 is $67.00, not $100.00
        (1, "jpy", "0.005", "usd", 1),  # half a cent
        (12345, "usd", "150.5", "jpy", 18579),  # the other way: 12345 × 150.5 / 10² = 18579.225 yen
        (1, "kwd", "3.25", "usd", 0),  # 1 fils × 3.25 / 10 = 0.325 cents
    ],
)
def test_convert_rounds_once_half_up_between_minor_units(
    amount: int, currency: str, rate: str, reward: str, expected: int
) -> None:
    assert convert(amount, currency, Decimal(rate), reward) == expected


def _rates(*rows: tuple[str, str, str]) -> PayoutRates:
    return PayoutRates("usd", [FxRate(dt.date.fromisoformat(d), c, Decimal(r), f"fx.csv:{n + 2}")
                               for n, (d, c, r) in enumerate(rows)])  # fmt: skip


def test_the_latest_rate_on_or_before_the_event_date_applies() -> None:
    rates = _rates(("2026-03-01", "gbp", "1.20"), ("2026-03-10", "gbp", "1.26845"), ("2026-03-11", "gbp", "1.40"))
    at = dt.datetime(2026, 3, 10, 23, 59, tzinfo=dt.UTC)
    paid = rates.payout(10000, "gbp", at)
    assert paid is not None
    assert (paid.amount_minor, paid.currency, paid.rate, paid.date, paid.source) == (
        12685, "usd", "1.26845", dt.date(2026, 3, 10), "fx.csv:3"
    )
    assert rates.payout(10000, "gbp", dt.datetime(2026, 3, 9, tzinfo=dt.UTC)).amount_minor == 12000  # type: ignore[union-attr]
    assert rates.payout(10000, "gbp", dt.datetime(2026, 2, 28, tzinfo=dt.UTC)) is None  # nothing on or before
    assert rates.payout(10000, "eur", at) is None  # no rate for the currency at all
    assert rates.payout(10000, "gbp", None) is None


def test_an_entry_in_the_reward_currency_pays_its_own_amount() -> None:
    paid = _rates().payout(-4321, "usd", None)
    assert paid is not None
    assert (paid.amount_minor, paid.currency, paid.rate, paid.date, paid.source) == (
        -4321, "usd", "1", None, "same currency"
    )


def test_a_reward_currency_row_other_than_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"fx.csv:2: a USD rate must be 1"):
        _rates(("2026-01-01", "usd", "1.01"))


def _file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "fx.csv"
    path.write_text("date,currency,rate\n" + body)
    return path


def test_the_file_is_read_with_exact_decimals(tmp_path: Path) -> None:
    [first, *_] = read_fx_rates(_file(tmp_path, " 2026-03-10 , GBP , 1.26845 \n2026-03-11,gbp,1.40\n"))
    assert first == FxRate(dt.date(2026, 3, 10), "gbp", Decimal("1.26845"), "fx.csv:2")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("2026-03-10,gbp,1.2\n2026-03-11,gbp,1,27\n", "fx.csv line 3: more cells than the 3 columns"),  # not rate 1
        ("2026-03-10,gbp,\"1,27\"\n", "fx.csv line 2: rate '1,27' is not a decimal number"),
        ("2026-03-10,gbp,-1.2\n", "fx.csv line 2: rate '-1.2' is not a positive number"),
        ("2026-03-10,gbp,NaN\n", "fx.csv line 2: rate 'NaN' is not a positive number"),
        ("2026-03-10,gbp,0\n", "fx.csv line 2: rate '0' is not a positive number"),
        ("10/03/2026,gbp,1.2\n", "fx.csv line 2: bad date '10/03/2026' (YYYY-MM-DD)"),
        ("2026-03-10,pound,1.2\n", "fx.csv line 2: unknown currency 'pound'"),
        ("2026-03-10,gbp,1.2\n2026-03-10,GBP,1.3\n",
         "fx.csv line 3: a second GBP rate for 2026-03-10 (first on line 2)"),
    ],
)
def test_a_bad_row_stops_the_file_naming_its_line(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(FxFileError) as caught:
        read_fx_rates(_file(tmp_path, body))
    assert str(caught.value).startswith(message)


def test_a_file_without_the_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fx.csv"
    path.write_text("day,ccy,rate\n2026-03-10,gbp,1.2\n")
    with pytest.raises(FxFileError, match=r"fx.csv: missing column\(s\) date, currency"):
        read_fx_rates(path)


def _sync(engine: Engine, now: str, fx: Path, rows: str) -> ComputeResult:
    """A scheduled sync's compute (incremental) with finance's file holding `rows`."""
    return compute(context(engine, now, settings=fx_settings(fx, rows)), program("consio"), incremental=True)


def _payouts(engine: Engine) -> dict[str, tuple[str, str | None, int | None, str | None, str | None]]:
    return {e.currency: (e.status, e.reason, e.payout_amount_minor, e.payout_currency, e.fx_rate)
            for e in entries(engine, "consio")}  # fmt: skip


def test_held_without_a_rate_and_released_by_the_next_sync_once_it_arrives(engine: Engine, tmp_path: Path) -> None:
    doc = load_scenario(FX_SCENARIO)
    scenario_rows(doc).save(engine)
    fx = tmp_path / "fx.csv"
    now = doc["now"]

    _sync(engine, now, fx, "")  # finance's file has no rate yet
    assert _payouts(engine) == {
        "gbp": ("held", "fx_rate_missing", None, None, None),
        "jpy": ("held", "fx_rate_missing", None, None, None),
    }
    first = _sync(engine, now, fx, GBP_ROWS)  # the GBP rates arrive
    assert _payouts(engine) == {
        "gbp": ("payable", None, 12685, "usd", "1.26845"),
        "jpy": ("held", "fx_rate_missing", None, None, None),
    }
    assert (first.mode, first.entries_appended, first.statuses_changed) == ("full", 0, 1)
    same = _sync(engine, now, fx, GBP_ROWS)  # nothing changed: nothing to do
    assert (same.mode, same.entries_appended, same.statuses_changed, same.customers_recomputed) == (
        "incremental", 0, 0, 0
    )
    second = _sync(engine, now, fx, GBP_ROWS + JPY_ROWS)  # the JPY rates arrive
    assert _payouts(engine) == {
        "gbp": ("payable", None, 12685, "usd", "1.26845"),
        "jpy": ("payable", None, 16676, "usd", "0.0066702"),
    }
    assert (second.mode, second.entries_appended, second.statuses_changed) == ("full", 0, 1)
    # the entries keep their own amounts and currencies: only the payout is in USD
    assert sorted((e.amount_minor, e.currency, e.fx_date, e.fx_source) for e in entries(engine, "consio")) == [
        (10000, "gbp", dt.date(2026, 3, 10), "fx.csv:3"),
        (25000, "jpy", dt.date(2026, 3, 12), "fx.csv:5"),
    ]

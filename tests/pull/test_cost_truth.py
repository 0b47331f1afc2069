"""`connector.pull.costtruth`: the cost file's rows matched to the stored ones by (customer, date, note, currency)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from connector.pull.costtruth import reconcile_costs

DAY = dt.datetime(2026, 2, 5, tzinfo=dt.UTC)


def _row(rid: str, amount: int, note: str | None = "show", day: dt.datetime = DAY) -> dict[str, Any]:
    return {"id": rid, "customer_id": "cus_A", "date": day, "amount": amount, "currency": "usd", "note": note}


def test_unchanged_rows_keep_their_ids_and_two_identical_rows_stay_two() -> None:
    read = [_row("h0", 100), _row("h1", 100)]
    assert reconcile_costs(read, [_row("h0", 100), _row("h1", 100)]) == read


def test_a_changed_amount_keeps_the_stored_id() -> None:
    assert reconcile_costs([_row("new", 150)], [_row("old", 100)]) == [_row("old", 150)]


def test_a_missing_row_goes_to_zero_unless_the_file_had_unreadable_rows() -> None:
    stored = [_row("old", 100), _row("gone", 50, note="webinar")]
    assert reconcile_costs([_row("old", 100)], stored) == [_row("old", 100), _row("gone", 0, note="webinar")]
    assert reconcile_costs([_row("old", 100)], stored, removals=False) == [_row("old", 100)]
    assert reconcile_costs([_row("old", 100)], [_row("old", 100), _row("gone", 0, note="x")]) == [_row("old", 100)]


def test_one_of_two_rows_of_an_identity_changes() -> None:
    """The unchanged one pairs with its own id; the changed one takes the other stored id."""
    stored = [_row("a", 100), _row("b", 200)]
    assert reconcile_costs([_row("b", 200), _row("c", 300)], stored) == [_row("b", 200), _row("a", 300)]


def test_a_row_back_in_the_file_takes_its_zeroed_id_again() -> None:
    assert reconcile_costs([_row("fresh", 80)], [_row("zeroed", 0)]) == [_row("zeroed", 80)]

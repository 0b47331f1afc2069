"""``/_sandbox/apply`` merges a change into a large world without re-sorting per record.

Why: the benchmark's 1 % change at L is a thousand new invoices, payments and renamed customers
merged into lists of a million records. Looking each one up used to re-sort its list (dirty after
the previous add) and scan it, so the merge grew with changes × records. The count of sorts is
what is asserted, not a time; the merged state must also equal a world generated with the change.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench.generate import EARLIEST_MS, NOW_S, change_set, stream
from sandbox.collection import Collection
from sandbox.loader import StreamLoader
from sandbox.scenario import Scenario
from sandbox.state import State


def _world(size: str, seed: int) -> State:
    state = State(Scenario(now_ms=NOW_S * 1000))
    loader = StreamLoader(state, EARLIEST_MS)
    info = stream(size, seed, loader.add)
    loader.finish({"marketing_costs": info.marketing_costs})
    return state


def test_a_change_of_many_customers_sorts_each_list_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = _world("S", 2)
    for collection in (*state.partnerstack.values(), *state.stripe.values()):
        collection.entries()  # settled, as after loading
    change = change_set("S", seed=2, fraction=0.05)
    changed = len(change["stripe"]["invoices"])
    assert changed == 50

    sorts: Counter[str] = Counter()
    real = Collection._rebuild

    def counted(self: Collection) -> None:
        sorts[self.name] += 1
        real(self)

    monkeypatch.setattr(Collection, "_rebuild", counted)
    summary = state.apply(change)

    assert summary["changed"]["stripe.invoices"] == changed
    assert summary["changed"]["stripe.invoice_payments"] == changed
    assert summary["changed"]["partnerstack.customers"] == changed
    assert max(sorts.values()) <= 2, sorts

    invoices = state.stripe["invoices"]
    for invoice in change["stripe"]["invoices"]:
        stored: Any = invoices.get(invoice["id"])
        assert stored["customer"] == invoice["customer"] and stored["amount_paid"] == 4_900
        assert len(invoices.all_with_id(invoice["id"])) == 1
    customers = state.partnerstack["customers"]
    for renamed in change["partnerstack"]["customers"]:
        assert customers.get(renamed["key"])["name"] == renamed["name"]
        assert len(customers.all_with_id(renamed["key"])) == 1


def test_ids_stay_found_after_adds_and_replacements() -> None:
    """The id map follows add and replace, duplicates and a changed id included."""
    c = Collection("things", "id", "created")
    c.replace_all([{"id": "a", "created": 1}, {"id": "b", "created": 2}])
    assert [e.obj["created"] for e in c.all_with_id("a")] == [1]  # builds the map
    c.add({"id": "a", "created": 3})
    assert sorted(e.obj["created"] for e in c.all_with_id("a")) == [1, 3]
    old = c.all_with_id("b")[0]
    c.replace(old, {"id": "c", "created": 2})
    assert c.all_with_id("b") == [] and [e.obj["id"] for e in c.all_with_id("c")] == ["c"]
    first = c.all_with_id("c")[0]
    c.replace(first, {"id": "c", "created": 2, "x": 1})
    assert [e.obj.get("x") for e in c.all_with_id("c")] == [1]
    assert c.all_with_id(1) == [] and c.all_with_id(["unhashable"]) == []


def test_replacements_while_unsorted_are_swapped_in_by_the_next_sort() -> None:
    c = Collection("things", "id", "created")
    c.replace_all([{"id": "a", "created": 1}, {"id": "b", "created": 2}])
    c.add({"id": "z", "created": 9})  # the list now awaits a sort
    first = c.all_with_id("a")[0]
    c.replace(first, {"id": "a", "created": 1, "v": 1})
    c.replace(c.all_with_id("a")[0], {"id": "a", "created": 1, "v": 2})  # a chain of two
    c.replace(c.all_with_id("z")[0], {"id": "z", "created": 9, "v": 3})
    assert [(e.obj["id"], e.obj.get("v")) for e in c.entries()] == [("z", 3), ("b", None), ("a", 2)]
    assert c.get("a") == {"id": "a", "created": 1, "v": 2} and len(c) == 3


def test_a_replacement_before_the_id_map_exists_is_seen_by_it() -> None:
    c = Collection("things", "id", "created")
    c.replace_all([{"id": "a", "created": 1}])
    old = c.entries()[0]
    c.add({"id": "b", "created": 2})
    c.replace(old, {"id": "a", "created": 1, "v": 1})
    assert [e.obj.get("v") for e in c.all_with_id("a")] == [1]

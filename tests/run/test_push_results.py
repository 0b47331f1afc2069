"""A push counts every held and refused entry but keeps only the notes the run shows: bounded memory."""

from __future__ import annotations

from connector.push.results import NOTED, Answer, Outgoing, PushResult


def test_holds_keep_the_first_distinct_notes_in_sort_order_and_count_all() -> None:
    result = PushResult()
    notes = []
    for n in [*range(40, 0, -1), 7, 7, 39]:  # descending, then repeats
        reason = "fx_rate_missing" if n % 2 else "partner_gate"
        result.hold(f"e{n:03d}", reason)
        notes.append(f"e{n:03d}: {reason}")
    assert result.held == 43
    assert result.holds == sorted(set(notes))[:NOTED]
    assert result.holds[0] == "e001: fx_rate_missing" and len(result.holds) == 20


def test_refusals_keep_the_first_notes_as_they_came_and_count_all() -> None:
    result = PushResult()
    answers = [Answer(Outgoing(f"e{n}", "part_1", "USD", 100, {}), rejection=f"400 bad {n}") for n in range(30)]
    result.count_sent(answers)
    assert result.failed == 30
    assert result.errors == [f"e{n}: 400 bad {n}" for n in range(NOTED)]

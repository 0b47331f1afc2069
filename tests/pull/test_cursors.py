"""Typed cursors read every layout already stored in `sync_cursors`, and write the same JSON back."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.partnerstack.streams import Position, TrailingCursor, TrailingPass, UpdatedCursor, UpdatedWindow
from adapters.streams import CursorLayoutError
from adapters.stripe.streams import (
    EVENTS_CURSOR_VERSION,
    EventPosition,
    EventsCursor,
    FullRead,
    HeadPage,
    WindowProgress,
    WindowsCursor,
)

# Layouts exactly as the untyped code (99103f9) saved them, each one it could leave behind.
UPDATED = [
    {"watermark": None, "window": None},
    {"watermark": 1749668400000, "window": None},
    {"watermark": 1749668400000,
     "window": {"min_updated": 1749668100000, "after": "part_0049", "max_seen": 1749668400000}},
    {"watermark": None, "window": {"min_updated": None, "after": "part_0049", "max_seen": None}},
]
TRAILING = [
    {"head": {"key": "rwd_4", "created": 1777939200000}, "reread_at": 1782777600000, "pass": None},
    {"head": None, "reread_at": None, "pass": {"kind": "window", "min_created": None, "cursor": "rwd_9",
                                               "newest": {"key": "rwd_0", "created": None}, "started": 1782777600000}},
    {"head": {"key": "rwd_4", "created": 1777939200000}, "reread_at": 1782777600000,
     "pass": {"kind": "new", "cursor": "rwd_6", "newest": {"key": "rwd_6", "created": 1782777600000}}},
    {"head": {"key": "rwd_4", "created": 1777939200000}, "reread_at": 1782777600000,
     "pass": {"kind": "overlap", "min_created": 1777938900000, "max_created": 1777939199999, "cursor": None,
              "newest": None}},
]
WINDOWS = [
    {"epoch": "run-1", "windows": {"head": {"bound": None}}},
    {"epoch": "run-1", "windows": {"head": {"bound": 1751414401}, "1748822401:1751414401": "done",
                                   "1746230401:1748822401": {"after": "cus_0012"}, ":1735862401": {"after": None}}},
]
EVENTS = [
    {"position": {"id": "evt_9", "created": 1782777600}},
    {"position": {"id": None, "created": 1782777600}},
    {"position": None, "full": {"epoch": "run-1", "pending": {"id": "evt_9", "created": 1782777600}, "since": None}},
    {"position": {"id": "evt_gone", "created": 1780000000},
     "full": {"epoch": "run-2", "pending": None, "since": 1779913600}},
    # version 2: the last complete read of the log, and when a full read began
    {"version": 2, "position": {"id": "evt_9", "created": 1782777600}, "read_at": 1785369600},
    {"version": 2, "position": None, "read_at": None,
     "full": {"epoch": "run-3", "pending": None, "since": 1782691200, "started": 1785369600}},
]


@pytest.mark.parametrize("layout", UPDATED)
def test_updated_cursor_round_trips(layout: dict[str, Any]) -> None:
    assert UpdatedCursor.from_json(layout).to_json() == layout


@pytest.mark.parametrize("layout", TRAILING)
def test_trailing_cursor_round_trips(layout: dict[str, Any]) -> None:
    assert TrailingCursor.from_json(layout).to_json() == layout


@pytest.mark.parametrize("layout", WINDOWS)
def test_windows_cursor_round_trips(layout: dict[str, Any]) -> None:
    assert WindowsCursor.from_json(layout).to_json() == layout


@pytest.mark.parametrize("layout", EVENTS)
def test_events_cursor_round_trips(layout: dict[str, Any]) -> None:
    assert EventsCursor.from_json(layout).to_json() == layout


def test_the_layouts_read_as_what_they_say() -> None:
    window = UpdatedCursor.from_json(UPDATED[2])
    assert window == UpdatedCursor(1749668400000, UpdatedWindow(1749668100000, "part_0049", 1749668400000))
    assert window.next_window(300_000) is window.window
    assert UpdatedCursor.from_json(UPDATED[1]).next_window(300_000) == UpdatedWindow(1749668100000, None, 1749668400000)
    assert UpdatedCursor.from_json({}) == UpdatedCursor()  # no cursor stored yet
    new = TrailingCursor.from_json(TRAILING[2])
    assert new.head == Position("rwd_4", 1777939200000) and new.read_before
    assert new.step == TrailingPass("new", cursor="rwd_6", newest=Position("rwd_6", 1782777600000))
    assert WindowsCursor.from_json(WINDOWS[1]) == WindowsCursor(
        "run-1",
        HeadPage(1751414401),
        {
            "1748822401:1751414401": WindowProgress(done=True),
            "1746230401:1748822401": WindowProgress(after="cus_0012"),
            ":1735862401": WindowProgress(),
        },
    )
    assert WindowsCursor.from_json({}) == WindowsCursor(None)
    assert EventsCursor.from_json(EVENTS[3]) == EventsCursor(
        EventPosition("evt_gone", 1780000000), FullRead("run-2", None, 1779913600), version=1
    )
    # version 1 knows only the last event; version 2 also when the log was last read to its end
    assert EventsCursor.from_json(EVENTS[0]).last_read == 1782777600
    quiet = EventsCursor.from_json(EVENTS[4])
    assert quiet.read_at == 1785369600 and quiet.last_read == 1785369600
    assert EventsCursor(EventPosition("evt_9", 1782777600), read_at=1785369600).to_json() == EVENTS[4]


def test_the_older_trailing_layout_reads_as_a_window_pass_to_finish() -> None:
    """`{"full_read", "pass": {"min_created", "after"}}`, saved before rewards were read by what is new."""
    older = TrailingCursor.from_json({"full_read": True, "pass": {"min_created": 5, "after": "rwd_3"}})
    assert older.head is None and older.reread_at is None and older.read_before
    assert older.step == TrailingPass("window", cursor="rwd_3", min_created=5)  # the resuming run stamps `started`
    done = TrailingCursor.from_json({"full_read": True, "pass": None})
    assert done.read_before and done.step is None
    assert TrailingCursor.from_json({"full_read": False, "pass": None}).read_before is False
    # `full_read` is not written back: the new layout's `reread_at` replaces it once the pass ends
    assert "full_read" not in older.to_json()


@pytest.mark.parametrize("cursor", [UpdatedCursor, TrailingCursor, WindowsCursor, EventsCursor])
def test_a_layout_from_a_newer_connector_is_refused(cursor: Any) -> None:
    newer = EVENTS_CURSOR_VERSION + 1 if cursor is EventsCursor else 2
    with pytest.raises(CursorLayoutError, match=f"unknown layout version {newer}"):
        cursor.from_json({"version": newer})
    assert cursor.from_json({"version": 1}) == cursor.from_json({})

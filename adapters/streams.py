"""What every adapter's stream declarations share: the name a stream has in the store, and cursor versions.

A stream is declared once, in its API's `streams` module; the mapping file, the sync cursor,
the run statistics and the quarantine all know it by `Stream.key` (`"<source>.<name>"`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

# The cursor layout this connector writes. Version 1 is the layout stored before cursors were
# typed; it carries no `version` key, so every existing store reads as version 1.
CURSOR_VERSION = 1


class CursorLayoutError(ValueError):
    """A stored cursor in a layout this connector does not know (written by a newer one)."""


@dataclass(frozen=True)
class Stream:
    source: ClassVar[str]
    name: str

    @property
    def key(self) -> str:
        return f"{self.source}.{self.name}"


def cursor_version(raw: Mapping[str, Any], stream: str, latest: int = CURSOR_VERSION) -> int:
    """The layout version of a stored cursor; one this connector cannot read is refused, not misread.

    `latest` is the newest layout of that cursor type (a type whose layout moved on declares its own).
    """
    version = raw.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= latest:
        raise CursorLayoutError(f"sync cursor {stream}: unknown layout version {version!r}")
    return version


def versioned(body: dict[str, Any], version: int) -> dict[str, Any]:
    """`body` as stored: version 1 is written without a `version` key, as it always was."""
    return body if version == 1 else {"version": version, **body}


def as_int(value: Any) -> int | None:
    """A stored integer, or None for anything else (a bool is not an integer here)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


__all__ = ["CURSOR_VERSION", "CursorLayoutError", "Stream", "as_int", "as_str", "cursor_version", "versioned"]

"""Every file stream, declared once: finance's marketing-cost CSV, re-read whole each run (no cursor)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from adapters.streams import Stream


@dataclass(frozen=True)
class FileStream(Stream):
    source: ClassVar[str] = "finance"
    setting: str  # the `[finance]` setting naming the file; no file, no read


MARKETING_COSTS = FileStream("marketing_costs", "marketing_costs_file")

STREAMS: tuple[FileStream, ...] = (MARKETING_COSTS,)

__all__ = ["MARKETING_COSTS", "STREAMS", "FileStream"]

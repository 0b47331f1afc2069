"""What every source's reader shares in one pull: the run, the page writer, the statistics."""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.context import RunContext
from connector.pull.pages import RecordWriter, transaction
from connector.pull.stats import StreamStats


@dataclass
class PullContext:
    ctx: RunContext
    writer: RecordWriter
    stats: dict[str, StreamStats] = field(default_factory=dict)

    def stat(self, stream: str) -> StreamStats:
        return self.stats.setdefault(stream, StreamStats())

    def page_written(self, stream: str) -> None:
        """Count a page and tell the progress display (a long stream shows it is moving)."""
        self.stat(stream).pages += 1
        if self.ctx.progress is not None:
            self.ctx.progress(stream, self.stat(stream).pulled, None)

    def finish(self, stream: str) -> None:
        """Save the stream's statistics for this run (the report reads them)."""
        stats = self.stat(stream)
        stats.settle()
        with transaction(self.ctx) as session:
            self.writer.write_stats(session, stream, stats)

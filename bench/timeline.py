"""A pull's timeline: when each request, stream phase and write batch started and ended (JSON lines).

Why: at an API's rate limit the question is not how much CPU the pull spends but where the wall
clock goes past the floor: a serial section (a stream's first page, PartnerStack read before
Stripe), the writer blocking the fetchers, a tail where the writer drains. `bench.worker pull
--timeline FILE` records it; `python -m bench.timeline FILE` summarises it (phases, the writer's
busy time and batches, Stripe requests answered per second).
"""

from __future__ import annotations

import collections
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def recording(path: str | None) -> Iterator[None]:
    """Wrap the pull's phases and the HTTP client's calls to log their times to `path` while open."""
    if path is None:
        yield
        return
    import adapters.http.client as http_client
    import connector.pull.partnerstack as partnerstack
    import connector.pull.windows as windows

    started, lock = time.perf_counter(), threading.Lock()
    with Path(path).open("w", encoding="utf-8") as out:

        def log(**fields: Any) -> None:
            line = json.dumps({"t": round(time.perf_counter() - started, 4), **fields})
            with lock:
                out.write(line + "\n")

        def phase(owner: Any, name: str, label: str) -> Callable[[], None]:
            original = getattr(owner, name)

            def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
                stream = getattr(getattr(self, "stream", None), "key", None)
                log(ev="start", what=label, stream=stream)
                try:
                    return original(self, *args, **kwargs)
                finally:
                    log(ev="end", what=label, stream=stream)

            setattr(owner, name, timed)
            return lambda: setattr(owner, name, original)

        original_call = http_client.HttpClient._call

        def call(self: Any, method: str, path_: str, **kwargs: Any) -> Any:
            t0 = round(time.perf_counter() - started, 4)
            try:
                return original_call(self, method, path_, **kwargs)
            finally:
                log(ev="request", api=self.api_name, method=method, path=path_, t0=t0)

        undo = [phase(partnerstack.PartnerStackPull, "run", "partnerstack"),
                phase(windows.WindowRead, "_read_head_page", "head"),
                phase(windows.WindowRead, "_read_windows", "windows"),
                phase(windows.WindowRead, "_write_batch", "batch")]
        http_client.HttpClient._call = call  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            http_client.HttpClient._call = original_call  # type: ignore[method-assign]
            for restore in undo:
                restore()


def summarise(path: Path) -> str:
    events = [json.loads(line) for line in path.read_text().splitlines() if line]
    lines: list[str] = []
    spans: dict[tuple[str, str | None], list[float]] = collections.defaultdict(list)
    batches: list[float] = []
    open_batch: float | None = None
    for e in events:
        if e.get("ev") in ("start", "end") and e["what"] != "batch":
            spans[(e["what"], e.get("stream"))].append(e["t"])
        elif e.get("what") == "batch":
            if e["ev"] == "start":
                open_batch = e["t"]
            elif open_batch is not None:
                batches.append(e["t"] - open_batch)
    for (what, stream), times in spans.items():
        lines.append(f"{what:12} {stream or '':28} {times[0]:8.2f} → {times[-1]:8.2f}  ({times[-1] - times[0]:.2f} s)")
    lines.append(f"write batches {len(batches)}, writer busy {sum(batches):.2f} s")
    per_second = collections.Counter(int(e["t"]) for e in events if e.get("ev") == "request" and e["api"] == "Stripe")
    if per_second:
        last = max(per_second)
        lines.append("Stripe requests answered per second: " + " ".join(str(per_second[s]) for s in range(last + 1)))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(summarise(Path(sys.argv[1])) + "\n")

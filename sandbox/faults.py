"""Injected failures, reproducible from a seed.

Why: the connector's retry, resume and idempotency logic must be exercised against the failures real
APIs produce (rate limits, 5xx, dropped connections, cut bodies, slowness) and a failing test must be
replayable, so the n-th faultable request under a given spec always gets the same fault.

Grammar: comma-separated ``name=value`` pairs, e.g.
``429=0.2,5xx=0.05,drop=0.02,truncate=0.01,slow=0.01,slow_seconds=0.2,seed=7,retry_after=1``.
Rates (``429``, ``5xx``, ``drop``, ``truncate``, ``slow``) are probabilities that must sum to at most
1; exactly one uniform draw per request picks at most one fault. ``5xx`` picks 500, 502 or 503.
``commit-then-drop`` hits writes only (a ``POST``; other requests drawing it pass untouched): the
handler runs to the end (the reward is stored) and the connection is then closed before a single
byte of the answer, the "it landed but nobody was told" case that PartnerStack, documenting no
idempotency, leaves to the client to resolve.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

RATE_NAMES: tuple[str, ...] = ("429", "5xx", "drop", "truncate", "slow", "commit-then-drop")
_ALIASES = {"rate_limit": "429", "500": "5xx", "error": "5xx", "timeout": "slow"}


@dataclass(frozen=True)
class FaultSpec:
    """Parsed fault settings."""

    rates: dict[str, float] = field(default_factory=dict)
    slow_seconds: float = 0.5
    seed: int = 0
    retry_after: float = 1.0

    @classmethod
    def parse(cls, text: str | None) -> FaultSpec | None:
        """Parse a spec string; ``None``/empty gives ``None`` (no faults). Raises ``ValueError``."""
        if text is None or not text.strip() or text.strip().lower() in ("none", "off"):
            return None
        rates: dict[str, float] = {}
        options: dict[str, float] = {}
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, value = part.partition("=")
            name = _ALIASES.get(name.strip().lower(), name.strip().lower())
            if not sep:
                raise ValueError(f"fault spec item without '=': {part!r}")
            try:
                number = float(value)
            except ValueError as exc:
                raise ValueError(f"fault spec value is not a number: {part!r}") from exc
            if name in RATE_NAMES:
                if not 0.0 <= number <= 1.0:
                    raise ValueError(f"fault rate must be within [0, 1]: {part!r}")
                rates[name] = number
            elif name in ("slow_seconds", "seed", "retry_after"):
                if number < 0:
                    raise ValueError(f"fault option must not be negative: {part!r}")
                options[name] = number
            else:
                raise ValueError(f"unknown fault spec item {name!r}; known: {', '.join(RATE_NAMES)}, "
                                 "slow_seconds, seed, retry_after")
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
        return cls(
            rates=rates,
            slow_seconds=options.get("slow_seconds", 0.5),
            seed=int(options.get("seed", 0)),
            retry_after=options.get("retry_after", 1.0),
        )

    def text(self) -> str:
        """The spec in its string form (round-trips through ``parse``)."""
        parts = [f"{name}={self.rates[name]:g}" for name in RATE_NAMES if name in self.rates]
        parts += [f"slow_seconds={self.slow_seconds:g}", f"seed={self.seed}", f"retry_after={self.retry_after:g}"]
        return ",".join(parts)


@dataclass(frozen=True)
class Fault:
    """The fault chosen for one request (``kind`` is one of ``RATE_NAMES``)."""

    kind: str
    status: int = 0
    seconds: float = 0.0


class FaultPlan:
    """Draws faults for successive requests; one ``random.Random(seed)``, one draw per request."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        self._random = random.Random(spec.seed)
        self._lock = threading.Lock()
        self.count = 0

    def next(self) -> Fault | None:
        """The fault for the next faultable request, or ``None``."""
        with self._lock:
            self.count += 1
            draw = self._random.random()
            pick = self._random.random()
        edge = 0.0
        for name in RATE_NAMES:
            edge += self.spec.rates.get(name, 0.0)
            if draw < edge:
                if name == "429":
                    return Fault("429", 429, self.spec.retry_after)
                if name == "5xx":
                    return Fault("5xx", (500, 502, 503)[int(pick * 3) % 3])
                if name == "slow":
                    return Fault("slow", 0, self.spec.slow_seconds)
                return Fault(name)
        return None

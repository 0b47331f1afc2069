"""Streaming a generated world into the sandbox gives exactly the state ``load_scenario`` gives.

Why: the benchmark's sandbox loads the world record by record (``bench.generate.stream`` into
``sandbox.loader.StreamLoader``) so that L fits in memory; it must serve the very same bytes as a
sandbox loaded from the whole document.
"""

from __future__ import annotations

from bench.generate import EARLIEST_MS, NOW_S, PS_SECTIONS, STRIPE_SECTIONS, counts, finance_of, generate, stream
from sandbox.loader import StreamLoader
from sandbox.scenario import Scenario, load_scenario
from sandbox.state import State


def test_streamed_world_equals_loaded_document() -> None:
    document = generate("XS", seed=5)
    loaded = State(load_scenario(document))
    streamed = State(Scenario(now_ms=NOW_S * 1000))
    loader = StreamLoader(streamed, EARLIEST_MS)
    info = stream("XS", 5, loader.add)
    loader.finish(finance_of(info))

    assert streamed.now_ms == loaded.now_ms
    assert streamed.finance == loaded.finance
    for system in ("partnerstack", "stripe"):
        ours, theirs = getattr(streamed, system), getattr(loaded, system)
        assert set(ours) == set(theirs)
        for name, collection in theirs.items():
            expected, got = collection.entries(), ours[name].entries()
            assert [e.ident for e in got] == [e.ident for e in expected], name
            assert [e.served() for e in got] == [e.served() for e in expected], name
            assert [e.obj for e in got] == [e.obj for e in expected], name
    sections = {f"partnerstack.{n}" for n in PS_SECTIONS} | {f"stripe.{n}" for n in STRIPE_SECTIONS}
    assert {k: v for k, v in counts(document).items() if k in sections} == {k: loader.counts[k] for k in sections}

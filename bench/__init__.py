"""Benchmarks at scale (issue #7): a deterministic scenario generator, ceilings and the measuring harness.

`bench/run SIZE` drives it; `bench.generate.generate(size, seed)` builds the scenarios.
"""

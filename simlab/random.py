"""Seeds: one root seed per run, split with ``numpy.random.SeedSequence``; no global seeding."""

from __future__ import annotations

import numpy as np

from simlab.errors import ParameterError

RandomLike = int | np.random.Generator | np.random.SeedSequence


def as_generator(rng: RandomLike) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``rng`` (an int seed, a SeedSequence or a Generator).

    ``None`` is refused: every run needs an explicit seed so that its output can be reproduced.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise ParameterError(f"`rng` must be a non-negative int seed, a numpy SeedSequence or Generator; got {rng!r}")


def spawn(seed: int | np.random.SeedSequence, n: int) -> list[np.random.Generator]:
    """Split one root ``seed`` into ``n`` independent generators (one per path or component)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ParameterError(f"`n` of spawn must be a non-negative int; got {n!r}")
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(_seed_int(seed))
    return [np.random.default_rng(child) for child in root.spawn(int(n))]


def _seed_int(seed: object) -> int:
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return int(seed)
    raise ParameterError(f"`seed` must be a non-negative int; got {seed!r}")


def seed_parts(seq: np.random.SeedSequence) -> tuple[int | tuple[int, ...], tuple[int, ...]]:
    """Return ``(entropy, spawn_key)`` of ``seq``: the stateless description of its streams (the same pair always
    rebuilds the same ``SeedSequence``, whatever has been spawned from ``seq`` since)."""
    entropy = seq.entropy if isinstance(seq.entropy, int) else tuple(int(e) for e in seq.entropy)
    return entropy, tuple(int(k) for k in seq.spawn_key)

"""Walker-Vose alias sampling, bit-compatible with the BC-UR reference (index order reversed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence


class RandomSampler:
    """Draws index ``i`` with probability proportional to ``weights[i]``."""

    __slots__ = ("_aliases", "_probs")

    def __init__(self, weights: Sequence[float]) -> None:
        if not weights or any(w < 0 for w in weights):
            raise ValueError("weights must be non-empty and non-negative")
        total = sum(weights)
        if total <= 0:
            raise ValueError("weights must not all be zero")
        n = len(weights)
        scaled = [w * n / total for w in weights]
        small: list[int] = []
        large: list[int] = []
        for i in range(n - 1, -1, -1):
            (small if scaled[i] < 1 else large).append(i)
        probs = [0.0] * n
        aliases = [0] * n
        while small and large:
            a = small.pop()
            g = large.pop()
            probs[a] = scaled[a]
            aliases[a] = g
            scaled[g] += scaled[a] - 1
            (small if scaled[g] < 1 else large).append(g)
        while large:
            probs[large.pop()] = 1.0
        while small:  # only through numeric instability
            probs[small.pop()] = 1.0
        self._probs = probs
        self._aliases = aliases

    def next(self, rng: Callable[[], float]) -> int:
        r1 = rng()
        r2 = rng()
        i = int(len(self._probs) * r1)
        return i if r2 < self._probs[i] else self._aliases[i]

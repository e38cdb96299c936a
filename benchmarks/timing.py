"""Wall-clock timing shared by the speed benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence


def seconds(
    fn: Callable[[], object], repeats: int = 1, *, warm_up: bool = False,
    pick: Callable[[Sequence[float]], float] = min,
) -> float:
    """``pick`` (min: the least disturbed run; median: a typical one) of
    ``repeats`` timed calls of ``fn``, after one untimed call when ``warm_up``."""
    if warm_up:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return pick(times)

"""How many torch threads an estimate uses: no more than the cores other processes leave free.

torch's CPU kernels split work over ``torch.get_num_threads()`` threads that meet at barriers;
when other processes keep some of the cores busy, every barrier waits for a descheduled thread,
and an estimate slows by far more than its share (a 25 + 25 default estimate beside two busy
processes on 2 cores: 5 s alone, 106 s with 2 threads). :func:`choose_threads` therefore reads
the machine's busy time over ``SAMPLE_SECONDS`` (``/proc/stat``, Linux; elsewhere nothing is
measured) and uses as many threads as there are idle cores, at least 1 and at most torch's
setting. ``threads=`` (``estimate_mi``, ``--threads``) sets the count outright.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

import torch

#: the window over which the busy time of the cores is read (30 ms: three clock ticks per core)
SAMPLE_SECONDS = 0.03


def _busy_and_total() -> tuple[int, int] | None:
    """(busy, total) clock ticks summed over all cores since boot, or None off Linux."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def idle_cores() -> float | None:
    """Cores left idle by all processes over the last ``SAMPLE_SECONDS`` (None off Linux)."""
    first = _busy_and_total()
    if first is None:
        return None
    time.sleep(SAMPLE_SECONDS)
    second = _busy_and_total()
    if second is None or second[1] == first[1]:
        return None
    idle_share = 1.0 - (second[0] - first[0]) / (second[1] - first[1])
    return idle_share * (os.cpu_count() or 1)


def choose_threads(threads: int | None = None) -> int:
    """``threads`` if given (≥ 1), else torch's thread count capped by the idle cores (≥ 1)."""
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
        return threads
    current = torch.get_num_threads()
    if current == 1:  # nothing to cap: no 30 ms look
        return 1
    idle = idle_cores()
    if idle is None:
        return current
    return max(1, min(current, int(idle + 0.5)))


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch threads, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


__all__ = ["SAMPLE_SECONDS", "choose_threads", "idle_cores", "torch_threads"]

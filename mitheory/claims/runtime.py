"""How the claim experiments use the machine."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch

T = TypeVar("T")


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run the block with one torch thread, then restore the previous count: the experiments'
    matrices and models are small, and one thread is fastest on a shared CPU (two threads per
    process oversubscribe the report's worker processes and the test runner's cores)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


#: worker processes of :func:`parallel_map` (the CI and development machines have 2 cores)
WORKERS = 2


def parallel_map(
    fn: Callable[..., T],
    jobs: Sequence[tuple[Any, ...]],
    *,
    label: str = "runs",
    progress: Callable[[str], None] | None = None,
    workers: int = WORKERS,
) -> list[T]:
    """``[fn(*job) for job in jobs]``, in order, on up to ``workers`` spawned processes (one per
    CPU core at most; each runs on one torch thread). ``fn`` and the jobs must be picklable and
    every job seeded, so the results do not depend on how the jobs are split. With one worker
    (or one job) everything runs in this process."""
    import os
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    n = min(workers, os.cpu_count() or 1, len(jobs))
    results: list[Any] = [None] * len(jobs)
    if n < 2:
        with single_thread():
            for i, job in enumerate(jobs):
                if progress is not None:
                    progress(f"{label}: run {i + 1}/{len(jobs)}")
                results[i] = fn(*job)
        return results
    with ProcessPoolExecutor(n, mp_context=get_context("spawn"), initializer=_one_thread) as pool:
        futures = {pool.submit(fn, *job): i for i, job in enumerate(jobs)}
        for done, future in enumerate(as_completed(futures), 1):
            results[futures[future]] = future.result()
            if progress is not None:
                progress(f"{label}: run {done}/{len(jobs)}")
    return results


def _one_thread() -> None:
    torch.set_num_threads(1)

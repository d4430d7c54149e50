"""How the claim experiments use the machine.

- :func:`single_thread`: one torch thread for a block.
- :func:`parallel_map`: seeded jobs on spawned worker processes.
- :func:`shared_pool` and :func:`turn`: how the report runs its claim families at the same time.
  Each family runs on a thread of the report's process; a family computes in that process only
  while it holds *the turn* (one lock: so matplotlib, sympy and the in-process numerics never run
  on two threads at once) and gives the turn up while it waits for its jobs in the shared pool.
  So while one family waits for its training runs, another draws its figures or computes its
  closed forms, and the worker processes are started once for the whole report.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run the block with one torch thread, then restore the previous count: the experiments'
    matrices and models are small, and one thread is fastest on a shared CPU (two threads per
    process oversubscribe the report's worker processes and the test runner's cores)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


#: worker processes of :func:`parallel_map` (the CI and development machines have 2 cores)
WORKERS = 2

#: the pool that :func:`shared_pool` opened (None outside one)
_SHARED: Any = None
#: the turn to compute in the report's process (see the module docstring)
_TURN = threading.Lock()
_HOLDS = threading.local()


@contextlib.contextmanager
def turn() -> Iterator[None]:
    """Hold the turn for the block (the calling thread computes in this process meanwhile)."""
    with _TURN:
        _HOLDS.held = True
        try:
            yield
        finally:
            _HOLDS.held = False


@contextlib.contextmanager
def _waiting() -> Iterator[None]:
    """Give the turn up for the block if this thread holds it (it only waits meanwhile)."""
    held = getattr(_HOLDS, "held", False)
    if not held:
        yield
        return
    _HOLDS.held = False
    _TURN.release()
    try:
        yield
    finally:
        _TURN.acquire()
        _HOLDS.held = True


class _LazyPool:
    """A pool of spawned worker processes, started by the first job submitted to it."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: Any = None
        self.lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        with self.lock:
            if self.pool is None:
                from concurrent.futures import ProcessPoolExecutor
                from multiprocessing import get_context

                self.pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"),
                                                initializer=_one_thread)  # fmt: skip
        return self.pool.submit(fn, *args)


@contextlib.contextmanager
def shared_pool(workers: int = WORKERS) -> Iterator[None]:
    """Within the block, every :func:`parallel_map` with more than one worker submits its jobs to
    one pool of ``workers`` spawned processes (one per core at most; started by the first job), in
    the order they arrive, so claim families that run at the same time share the cores instead of
    each starting a pool of its own (and paying the processes' start-up, seconds of imports, once
    per family). Jobs are seeded, so the results do not change. On leaving (or on an error) queued
    jobs are cancelled."""
    import os

    global _SHARED
    n = min(workers, os.cpu_count() or 1)
    if n < 2 or _SHARED is not None:
        yield
        return
    lazy = _LazyPool(n)
    _SHARED = lazy
    try:
        yield
    finally:
        _SHARED = None
        if lazy.pool is not None:
            lazy.pool.shutdown(wait=True, cancel_futures=True)


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
    (or one job) everything runs in this process; inside :func:`shared_pool` the jobs go to the
    shared pool.

    When jobs fail, the exception raised is the one of the lowest-indexed failing job, whichever
    failed first: at the first failure this call's later jobs that have not started are
    cancelled and its earlier jobs (started before it, as the pool takes jobs in order) are
    waited for."""
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

    def collect(pool: Any) -> list[Any]:
        futures = [pool.submit(fn, *job) for job in jobs]
        index = {future: i for i, future in enumerate(futures)}
        try:
            with _waiting():
                for done, future in enumerate(as_completed(futures), 1):
                    i = index[future]
                    if future.exception() is not None:
                        for later in futures[i + 1 :]:
                            later.cancel()
                        for earlier in futures[: i + 1]:
                            earlier.result()  # raises the lowest-indexed failure
                    results[i] = future.result()
                    if progress is not None:
                        progress(f"{label}: run {done}/{len(jobs)}")
        finally:
            for future in futures:  # after an error, this call's queued jobs are not run
                future.cancel()
        return results

    if _SHARED is not None:
        return collect(_SHARED)
    with ProcessPoolExecutor(n, mp_context=get_context("spawn"), initializer=_one_thread) as pool:
        return collect(pool)


def _one_thread() -> None:
    import warnings

    import torch

    from estimators.flags import MIWarning

    torch.set_num_threads(1)
    # the claims read the estimators' flags from their diagnostics where they matter
    warnings.simplefilter("ignore", MIWarning)

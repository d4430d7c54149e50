"""How the claim experiments use the machine: ``mitheory.claims.runtime``."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from mitheory.claims import runtime


def _square_after(x: int, delay: float) -> int:
    time.sleep(delay)
    return x * x


def _fail(x: int) -> int:
    raise ValueError(f"job {x} failed")


def _fail_after(x: int, delay: float) -> int:
    time.sleep(delay)
    raise ValueError(f"job {x} failed")


def test_shared_pool_gives_the_in_process_results_in_order():
    jobs = [(k, 0.05 * (5 - k)) for k in range(6)]  # later jobs finish first
    plain = runtime.parallel_map(_square_after, jobs, workers=1)
    with runtime.shared_pool(2):
        assert runtime._SHARED is not None
        shared = runtime.parallel_map(_square_after, jobs)
        again = runtime.parallel_map(_square_after, jobs[:2])  # the same pool, a second call
    assert runtime._SHARED is None
    assert shared == plain == [k * k for k in range(6)] and again == [0, 1]


def test_a_family_gives_up_its_turn_while_its_jobs_run():
    """Thread A holds the turn and waits on the pool; thread B must get the turn meanwhile (and
    not only after A's jobs are done)."""
    events: list[str] = []

    def family_a() -> None:
        with runtime.turn():
            runtime.parallel_map(_square_after, [(1, 1.5), (2, 1.5)])
            events.append("a done")

    def family_b() -> None:
        with runtime.turn():
            events.append("b computed")

    with runtime.shared_pool(2):
        a = threading.Thread(target=family_a)
        a.start()
        time.sleep(0.3)  # A has the turn and is waiting for its jobs
        b = threading.Thread(target=family_b)
        b.start()
        a.join(60)
        b.join(60)
    assert events == ["b computed", "a done"]


def test_a_failing_job_raises_and_the_pool_stays_usable():
    with runtime.shared_pool(2):
        with pytest.raises(ValueError, match="job 1 failed"):
            runtime.parallel_map(_fail, [(1,), (2,)])
        assert runtime.parallel_map(_square_after, [(3, 0.0)]) == [9]


@pytest.mark.parametrize("shared", [True, False], ids=["shared pool", "own pool"])
def test_the_lowest_failing_job_is_reported_when_a_later_one_fails_first(shared):
    """Job 2 fails at once, job 1 a second later: the error is job 1's, under any load."""
    with runtime.shared_pool(2) if shared else contextlib.nullcontext():
        with pytest.raises(ValueError, match="job 1 failed"):
            runtime.parallel_map(_fail_after, [(1, 1.0), (2, 0.0)])

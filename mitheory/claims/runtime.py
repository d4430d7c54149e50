"""How the claim experiments use the machine."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


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

"""Counting what a training step costs the host: device→host synchronisations and aten ops.

On a GPU every value read on the host (``loss.item()``, ``float(t)``, ``if t.any():``,
``t.tolist()``, ``t.cpu()``, a boolean-mask index, ``nonzero``/``unique`` with data-dependent
sizes) waits for the device to drain its queue, so one such call per step puts the kernel-launch
latency back on the critical path. The same calls exist on the CPU, so they can be counted there:

    with count_host_syncs() as syncs:
        ...                        # training steps
    assert syncs.total == 0, syncs.report()

:func:`count_host_syncs` counts at two levels: the aten ops that read a value back
(``_local_scalar_dense`` — what ``item``, ``float``, ``int`` and ``bool`` of a tensor become —
``nonzero``, ``masked_select``, ``unique``, indexing with a boolean mask) and the tensor methods
that copy to the host without an aten op on the CPU (``tolist``, ``cpu``, ``numpy``). Each count
keeps where it came from (the innermost frame of this project's code), so a failing test says
which line synchronised. :func:`count_aten_ops` counts every aten op dispatched, the launch-bound
cost of a step.
"""

from __future__ import annotations

import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

#: aten ops whose result size or value the host must read before going on
SYNC_OPS = frozenset(
    {
        "aten._local_scalar_dense",
        "aten.nonzero",
        "aten.masked_select",
        "aten._unique2",
        "aten.unique_dim",
        "aten.unique_consecutive",
    }
)
#: tensor methods that copy to the host (on the CPU they dispatch no aten op)
SYNC_METHODS = frozenset({"tolist", "cpu", "numpy"})
_ROOT = Path(__file__).resolve().parents[2]  # the project: paradigms/measurement/profiling.py


def _caller() -> str:
    """``file:line`` of the innermost frame in this project's code outside this module."""
    for frame in reversed(traceback.extract_stack()):
        path = Path(frame.filename).resolve()
        if path != Path(__file__).resolve() and _ROOT in path.parents and ".venv" not in path.parts:
            return f"{path.relative_to(_ROOT)}:{frame.lineno}"
    return "<outside the project>"


def _is_bool_index(args: tuple[Any, ...]) -> bool:
    indices = args[1] if len(args) > 1 else ()
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in indices or ())


class _SyncDispatch(TorchDispatchMode):
    def __init__(self, owner: HostSyncs) -> None:
        super().__init__()
        self.owner = owner

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # torch's signature
        name = func._schema.name.replace("::", ".")
        if name in SYNC_OPS or (name == "aten.index" and _is_bool_index(args)):
            self.owner.record(name)
        return func(*args, **(kwargs or {}))


class _SyncFunction(TorchFunctionMode):
    def __init__(self, owner: HostSyncs) -> None:
        super().__init__()
        self.owner = owner

    def __torch_function__(self, func, types, args=(), kwargs=None):  # torch's signature
        if getattr(func, "__name__", "") in SYNC_METHODS:
            self.owner.record(f"Tensor.{func.__name__}")
        return func(*args, **(kwargs or {}))


class HostSyncs:
    """Counts of sync-causing calls by kind and by source line; ``paused()`` stops counting."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.sites: Counter[str] = Counter()
        self.active = True
        self._modes = (_SyncFunction(self), _SyncDispatch(self))

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def record(self, kind: str) -> None:
        if self.active:
            self.calls[kind] += 1
            self.sites[f"{kind} at {_caller()}"] += 1

    def pause(self) -> None:
        self.active = False

    def resume(self) -> None:
        self.active = True

    def report(self) -> str:
        """One line per call site, most frequent first."""
        return "\n".join(f"{n:6d}  {site}" for site, n in self.sites.most_common())

    def __enter__(self) -> HostSyncs:
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for mode in reversed(self._modes):
            mode.__exit__(*exc)


def count_host_syncs() -> HostSyncs:
    """A context manager counting sync-causing calls (module docstring)."""
    return HostSyncs()


class AtenOps(TorchDispatchMode):
    """Counts every aten op dispatched inside the context (``total`` and ``ops`` by name)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.ops.values())

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # torch's signature
        self.ops[func._schema.name] += 1
        return func(*args, **(kwargs or {}))


def count_aten_ops() -> AtenOps:
    """A context manager counting the aten ops dispatched inside it."""
    return AtenOps()


__all__ = ["SYNC_METHODS", "SYNC_OPS", "AtenOps", "HostSyncs", "count_aten_ops", "count_host_syncs"]

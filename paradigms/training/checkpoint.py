"""Checkpoints that are written atomically, verified on load, and resume a run exactly.

File layout (``ckpt-<step>.pt``)::

    b"MITCKPT1" | header length (8 bytes, little-endian) | header (UTF-8 JSON) | payload

The header holds ``{"format": 1, "step": k, "length": len(payload), "sha256": hex digest}``; the
payload is ``torch.save`` of the state. The file appears under its final name only when complete
(temp file + rename, :mod:`estimators.atomic`), and a file whose payload length or SHA-256 does not
match its header — truncated, bit-flipped, or not a checkpoint at all — raises
:class:`CheckpointError` instead of being loaded.

State saved: the model (unwrapped from DDP / ``torch.compile``), optimizer, LR scheduler, the
global RNGs (torch CPU, every CUDA device, numpy's legacy global, Python's ``random``), any named
``torch.Generator`` / ``numpy.random.Generator`` and a dict of extra values (plain Python types and
tensors: loading uses ``torch.load(weights_only=True)``). Restoring all of it makes the continued
run draw the same random numbers and take the same steps as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from estimators.atomic import atomic_write

MAGIC = b"MITCKPT1"
FORMAT = 1
_NAME = re.compile(r"^ckpt-(\d+)\.pt$")


class CheckpointError(ValueError):
    """A checkpoint file is missing, partial, corrupted or not a checkpoint."""


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside DDP (``.module``) and/or ``torch.compile`` (``._orig_mod``) wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def checkpoint_path(directory: str | os.PathLike, step: int) -> Path:
    """``directory/ckpt-<step, 9 digits>.pt``."""
    return Path(directory) / f"ckpt-{step:09d}.pt"


# ----------------------------------------------------------------------------- RNG state


def _rng_state(generators: dict[str, Any] | None) -> dict:
    np_state = np.random.get_state(legacy=False)  # noqa: NPY002 - saving the global RNG
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "python": random.getstate(),
        "generators": {},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    for name, gen in (generators or {}).items():
        if isinstance(gen, torch.Generator):
            state["generators"][name] = {"torch": gen.get_state()}
        elif isinstance(gen, np.random.Generator):
            state["generators"][name] = {"numpy": gen.bit_generator.state}
        else:
            raise TypeError(
                f"generator {name!r} must be a torch.Generator or numpy.random.Generator, "
                f"got {type(gen).__name__}"
            )
    return state


def _set_rng_state(state: dict, generators: dict[str, Any] | None) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    nps = state["numpy"]
    np.random.set_state(  # noqa: NPY002 - restoring the global RNG
        {
            "bit_generator": nps["bit_generator"],
            "state": {"key": nps["key"].numpy().astype(np.uint32), "pos": nps["pos"]},
            "has_gauss": nps["has_gauss"],
            "gauss": nps["gauss"],
        }
    )
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    saved = state["generators"]
    for name, gen in (generators or {}).items():
        if name not in saved:
            raise CheckpointError(
                f"checkpoint has no state for generator {name!r}; it holds {sorted(saved)}"
            )
        if isinstance(gen, torch.Generator):
            gen.set_state(saved[name]["torch"])
        else:
            gen.bit_generator.state = saved[name]["numpy"]


# ----------------------------------------------------------------------------- save / load


def save_checkpoint(
    path: str | os.PathLike,
    *,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    generators: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a verified checkpoint of the run after ``step`` completed steps, atomically."""
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative integer, got {step!r}")
    state = {
        "step": step,
        "model": unwrap_model(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": _rng_state(generators),
        "extra": extra or {},
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    header = json.dumps(
        {
            "format": FORMAT,
            "step": step,
            "length": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
    ).encode()

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(MAGIC + struct.pack("<Q", len(header)) + header)
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())

    return atomic_write(path, write)


def _verified_payload(path: Path) -> tuple[dict, bytes]:
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    raw = path.read_bytes()
    if len(raw) < len(MAGIC) + 8 or raw[: len(MAGIC)] != MAGIC:
        raise CheckpointError(f"{path} is not a checkpoint of this project (bad magic bytes)")
    (hlen,) = struct.unpack("<Q", raw[len(MAGIC) : len(MAGIC) + 8])
    start = len(MAGIC) + 8
    try:
        header = json.loads(raw[start : start + hlen].decode())
        length, digest = int(header["length"]), str(header["sha256"])
    except (ValueError, KeyError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: unreadable checkpoint header ({err})") from err
    payload = raw[start + hlen :]
    if len(payload) != length:
        raise CheckpointError(
            f"{path} is partial or corrupted: header promises {length} payload bytes, file holds "
            f"{len(payload)}; not loaded"
        )
    if hashlib.sha256(payload).hexdigest() != digest:
        raise CheckpointError(f"{path} is corrupted: SHA-256 of the payload does not match")
    return header, payload


def verify_checkpoint(path: str | os.PathLike) -> int:
    """Check a checkpoint's length and checksum; return its step (raises CheckpointError)."""
    header, _ = _verified_payload(Path(path))
    return int(header["step"])


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device | None = "cpu"
) -> dict:
    """The verified state dict of a checkpoint (keys step, model, optimizer, scheduler, rng,
    extra)."""
    _, payload = _verified_payload(Path(path))
    return torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)


def restore_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    generators: dict[str, Any] | None = None,
    map_location: str | torch.device | None = "cpu",
) -> dict:
    """Load a checkpoint into the given objects and RNGs; return ``{"step", "extra"}``."""
    state = load_checkpoint(path, map_location)
    unwrap_model(model).load_state_dict(state["model"])
    for obj, key in ((optimizer, "optimizer"), (scheduler, "scheduler")):
        if obj is not None:
            if state[key] is None:
                raise CheckpointError(f"{path} holds no {key} state")
            obj.load_state_dict(state[key])
    _set_rng_state(state["rng"], generators)
    return {"step": int(state["step"]), "extra": state["extra"]}


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The newest ``ckpt-<step>.pt`` in ``directory`` that verifies, or None.

    Newer files that fail verification are skipped with a warning (the previous good checkpoint
    is used instead of a corrupted one).
    """
    directory = Path(directory)
    if not directory.is_dir():
        return None
    found = sorted(
        ((int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))),
        reverse=True,
    )
    for _, path in found:
        try:
            verify_checkpoint(path)
        except CheckpointError as err:
            warnings.warn(f"skipping bad checkpoint: {err}", RuntimeWarning, stacklevel=2)
            continue
        return path
    return None


class CheckpointManager:
    """Save every ``every`` steps into ``directory`` (keeping the newest ``keep``) and resume.

    Typical loop::

        manager = CheckpointManager(out / "checkpoints", every=500)
        start = manager.resume(model=m, optimizer=o, scheduler=s, generators={"data": g})
        for step in range(start, total):
            ...one training step...
            manager.maybe_save(step + 1, model=m, optimizer=o, scheduler=s, generators={"data": g})
    """

    def __init__(self, directory: str | os.PathLike, every: int, keep: int = 2) -> None:
        for name, value in (("every", every), ("keep", keep)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.directory = Path(directory)
        self.every = every
        self.keep = keep

    def maybe_save(self, step: int, **state: Any) -> Path | None:
        """Save when ``step`` (completed steps) is a positive multiple of ``every``."""
        if step <= 0 or step % self.every:
            return None
        return self.save(step, **state)

    def save(self, step: int, **state: Any) -> Path:
        """Save now (e.g. after the last step), then drop all but the newest ``keep`` files."""
        path = save_checkpoint(checkpoint_path(self.directory, step), step=step, **state)
        old = sorted(p for p in self.directory.iterdir() if _NAME.match(p.name))
        for stale in old[: -self.keep]:
            stale.unlink()
        return path

    def resume(self, **objects: Any) -> int:
        """Restore the newest good checkpoint into ``objects``; return its step (0 if none)."""
        path = latest_checkpoint(self.directory)
        if path is None:
            return 0
        return restore_checkpoint(path, **objects)["step"]

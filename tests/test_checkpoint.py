"""Checkpoints: exact resume (in-process and after a hard kill), corruption detection, rotation."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from paradigms.training import checkpoint as C
from paradigms.training.optim import OptimizerConfig, build_optimizer, build_scheduler

TOTAL = 12


def _setup():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
                          nn.Linear(16, 2))
    opt = build_optimizer(model, OptimizerConfig(name="lars", lr=0.5, weight_decay=1e-3))
    sched = build_scheduler(opt, TOTAL, 3, 0.1)
    gens = {"data": torch.Generator().manual_seed(1), "np": np.random.default_rng(2)}
    return model, opt, sched, gens


def _step(model, opt, sched, gens):
    """One step drawing from every RNG a run uses: torch global (dropout), a torch.Generator
    (batch), numpy's global and a numpy Generator (noise), Python's random (a scale)."""
    x = torch.randn(8, 6, generator=gens["data"])
    noise = np.random.normal(size=(8, 6))  # noqa: NPY002 - the global RNG is under test
    noise = noise + gens["np"].normal(size=(8, 6))
    x = x + torch.from_numpy(noise).float() * 0.1 * random.random()
    loss = model(x).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()


def _scramble_rngs():
    torch.manual_seed(999)
    np.random.seed(999)  # noqa: NPY002 - the global RNG is under test
    random.seed(999)


def _run(directory, stop_at=None):
    np.random.seed(5)  # noqa: NPY002 - the global RNG is under test
    random.seed(5)
    model, opt, sched, gens = _setup()
    manager = C.CheckpointManager(directory, every=4, keep=2)
    start = manager.resume(model=model, optimizer=opt, scheduler=sched, generators=gens)
    for step in range(start, TOTAL if stop_at is None else stop_at):
        _step(model, opt, sched, gens)
        manager.maybe_save(step + 1, model=model, optimizer=opt, scheduler=sched, generators=gens)
    return model, start


def test_resume_continues_exactly(tmp_path):
    ref, _ = _run(tmp_path / "ref")
    _run(tmp_path / "cut", stop_at=6)  # checkpoint at 4, steps 5-6 lost
    _scramble_rngs()
    resumed, start = _run(tmp_path / "cut")
    assert start == 4
    for a, b in zip(ref.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    ckpts = sorted(p.name for p in (tmp_path / "cut").iterdir())
    assert ckpts == ["ckpt-000000008.pt", "ckpt-000000012.pt"]  # keep=2


def test_resume_after_hard_kill(tmp_path):
    """A child process is killed with os._exit mid-run (after step 7, checkpoint at 4); resuming
    here ends with the same parameters as an uninterrupted run."""
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import torch
        torch.set_num_threads(1)
        import test_checkpoint as t
        orig = t._step
        count = [0]
        def step(*a):
            orig(*a)
            count[0] += 1
            if count[0] == 7:
                os._exit(3)
        t._step = step
        t._run({str(tmp_path / "cut")!r})
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert proc.returncode == 3, proc.stderr.decode()[-2000:]
    ref, _ = _run(tmp_path / "ref")
    _scramble_rngs()
    resumed, start = _run(tmp_path / "cut")
    assert start == 4
    for a, b in zip(ref.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def _good(tmp_path, step=3):
    model, opt, sched, gens = _setup()
    return C.save_checkpoint(C.checkpoint_path(tmp_path, step), step=step, model=model,
                             optimizer=opt, scheduler=sched, generators=gens)


def test_corrupted_and_partial_checkpoints_are_detected(tmp_path):
    path = _good(tmp_path)
    assert C.verify_checkpoint(path) == 3
    raw = path.read_bytes()
    flipped = bytearray(raw)
    flipped[-100] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(C.CheckpointError, match="SHA-256"):
        C.load_checkpoint(path)
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(C.CheckpointError, match="partial"):
        C.load_checkpoint(path)
    path.write_bytes(b"PK\x03\x04 a zip, not ours")
    with pytest.raises(C.CheckpointError, match="not a checkpoint"):
        C.load_checkpoint(path)
    with pytest.raises(C.CheckpointError, match="does not exist"):
        C.load_checkpoint(tmp_path / "nothing.pt")
    model, *_ = _setup()
    with pytest.raises(C.CheckpointError):
        C.restore_checkpoint(path, model=model)


def test_latest_skips_a_corrupted_newest_checkpoint(tmp_path):
    assert C.latest_checkpoint(tmp_path / "empty") is None
    _good(tmp_path, 3)
    newest = _good(tmp_path, 6)
    newest.write_bytes(newest.read_bytes()[:-10])
    (tmp_path / ".ckpt-000000009.pt.abc.tmp").write_bytes(b"half written")
    with pytest.warns(RuntimeWarning, match="partial"):
        assert C.latest_checkpoint(tmp_path) == C.checkpoint_path(tmp_path, 3)


def test_unwraps_and_rejects_bad_arguments(tmp_path):
    model, *_ = _setup()
    compiled_like = nn.Module()
    compiled_like._orig_mod = model
    assert C.unwrap_model(compiled_like) is model
    with pytest.raises(ValueError, match="step"):
        C.save_checkpoint(tmp_path / "x.pt", step=-1, model=model)
    with pytest.raises(TypeError, match="generator"):
        C.save_checkpoint(tmp_path / "x.pt", step=1, model=model, generators={"g": 3})
    with pytest.raises(ValueError, match="every"):
        C.CheckpointManager(tmp_path, every=0)
    path = C.save_checkpoint(tmp_path / "y.pt", step=1, model=model)
    with pytest.raises(C.CheckpointError, match="generator 'data'"):
        C.restore_checkpoint(path, model=model, generators={"data": torch.Generator()})

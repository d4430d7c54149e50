"""Image training through the one loop: every method on digits, torchrun equivalence, kill/resume.

Sizes are tiny (8×8 digits, a width-8 small CNN, batches of 16) so the module runs in well under a
minute on one core; what is checked is exact (equalities of parameters and metrics) or a clear
error, not learning quality (P6 in ``verification/test_images.py`` checks that).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from paradigms.data import load_dataset
from paradigms.data.images import FASHION_MNIST_DIR
from paradigms.methods import METHODS
from paradigms.training.checkpoint import CheckpointError, load_checkpoint, verify_checkpoint
from paradigms.training.config import TrainConfig, config_from_recipe
from paradigms.training.loop import build_method, train

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "data": "digits",
    "backbone": "smallcnn",
    "backbone_options": {"width": 8},
    "batch_size": 16,
    "eval_pairs": 64,
    "probe_train": 64,
    "probe_max_iter": 20,
    "progress": False,
    "method_options": {"proj_hidden_dim": 32, "proj_dim": 16},
}


def tiny(**kwargs) -> TrainConfig:
    options = {**TINY, "steps": 2, "eval_every": 2}
    options.update(kwargs)
    return TrainConfig(**options)


def initial_state(config: TrainConfig) -> dict[str, torch.Tensor]:
    data = load_dataset(config.data, seed=config.seed, **config.data_options)
    return build_method(config, data).state_dict()


def final_state(out: Path) -> dict[str, torch.Tensor]:
    (path,) = sorted((out / "checkpoints").glob("ckpt-*.pt"))[-1:]
    return load_checkpoint(path)["model"]


# ----------------------------------------------------------------------------- every method


@pytest.mark.parametrize("name", sorted(METHODS))
def test_tiny_image_run_per_method(name: str, tmp_path: Path) -> None:
    """Each method trains on images: finite loss, parameters move, online probe and checkpoint."""
    summary = train(tiny(method=name, out=str(tmp_path), checkpoint_every=2))
    assert summary["status"] == "ok", summary["reason"]
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [0, 2]
    assert all(0.0 <= r["online_probe_acc"] <= 1.0 for r in lines)  # on for image data
    assert torch.isfinite(torch.tensor(lines[-1]["loss"]))
    key = "backbone.features.0.weight"  # the first conv kernel left its seeded initialization
    assert not torch.allclose(final_state(tmp_path)[key], initial_state(tiny(method=name))[key])


# ----------------------------------------------------------------------------- recipes, CLI


def test_recipe_fills_the_config_and_flags_override() -> None:
    config = config_from_recipe("simclr-cifar10", data_options={"n_train": 5000})
    assert (config.backbone, config.optimizer, config.lr_schedule) == ("resnet18", "lars", "cosine")
    assert config.steps == 1000 * (5000 // 256) and config.warmup_steps == 10 * (5000 // 256)
    assert config.sync_batchnorm and config.lars_clip
    assert config.data_options["crop_size"] == 32
    small = config_from_recipe("byol-fashion-mnist", steps=30, batch_size=64)
    assert (small.steps, small.batch_size, small.warmup_steps) == (30, 64, 30)
    with pytest.raises(ValueError, match="no recipe"):
        config_from_recipe("simclr-mnist")


def test_cli_trains_an_image_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mitheory.cli import main

    code = main([
        "train", "--method", "simsiam", "--data", "digits", "--backbone", "smallcnn",
        "--steps", "3", "--batch-size", "16", "--eval-every", "3", "--optimizer", "sgd",
        "--lr", "0.05", "--warmup-steps", "1", "--lr-schedule", "cosine",
        "--checkpoint-every", "2", "--out", str(tmp_path), "--no-progress",
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["optimizer"] == "sgd" and summary["config"]["backbone"] == "smallcnn"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "ckpt-000000002.pt",
        "ckpt-000000003.pt",
    ]


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backbone": "vgg11"}, "unknown backbone"),
        ({"backbone": "mlp"}, "needs flat inputs"),  # images into the vector encoder
        ({"data": "gaussian-mixture"}, "needs images"),  # vectors into the CNN
        ({"data": "cifar10", "data_options": {"root": "/nonexistent/cifar"}}, "cifar"),
        ({"optimizer": "rmsprop"}, "unknown optimizer"),
        ({"warmup_steps": 5}, "warmup_steps"),
        ({"lr_schedule": "step"}, "lr_schedule"),
        ({"checkpoint_every": 1}, "output folder"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        train(tiny(method="simclr", **kwargs))


def test_batch_smaller_than_world_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """With 4 ranks a global batch of 2 leaves ranks empty: refused before any collective."""
    from paradigms.training import distributed as D

    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setattr(D, "init_distributed", lambda device: D.DistContext(0, 4, 0))
    with pytest.raises(ValueError, match="smaller than the world size"):
        train(tiny(method="simclr", batch_size=2))


# ----------------------------------------------------------------------------- torchrun / DDP

DDP_METHODS = ("simclr", "vicreg", "byol", "mocov2")
SLOW_DDP = {"byol", "mocov2"}  # run in the same spawn; their comparisons are marked slow
WORLD = 2


def ddp_config(name: str, out: Path) -> TrainConfig:
    """One SGD step of lr 1 (momentum buffer = g), no weight decay: θ₁ = θ₀ − g, so equal θ₁ to
    1e-5 means equal gradients to 1e-5. SyncBN on: the backbone's batch norms use global batch
    statistics (GlobalBatchNorm on gloo), as one process on the full batch does."""
    return tiny(
        method=name, steps=1, eval_every=1, optimizer="sgd", lr=1.0, weight_decay=0.0,
        sync_batchnorm=True, out=str(out), checkpoint_every=1, online_probe=False,
    )  # fmt: skip


def _ddp_worker(rank: int, init_file: str, out: str, names: list[str]) -> None:
    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank))
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        for name in names:
            summary = train(ddp_config(name, Path(out) / name))
            if rank == 0:
                (Path(out) / f"{name}.json").write_text(json.dumps(summary))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ddp_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rank 0's summaries and checkpoints of the selected methods, from one 2-process spawn."""
    tmp = tmp_path_factory.mktemp("ddp")
    wanted = "test_two_process_gloo_equals_one_process_on_the_full_batch"
    selected = {
        item.callspec.params["name"]
        for item in request.session.items
        if getattr(item, "originalname", None) == wanted
    }
    names = [m for m in DDP_METHODS if m in selected]
    sys.path.insert(0, str(ROOT))  # spawned children import this module by name
    try:
        mp.spawn(_ddp_worker, args=(str(tmp / "pg"), str(tmp), names), nprocs=WORLD, join=True)
    finally:
        sys.path.remove(str(ROOT))
    return tmp


@pytest.mark.parametrize(
    "name", [pytest.param(m, marks=pytest.mark.slow) if m in SLOW_DDP else m for m in DDP_METHODS]
)
def test_two_process_gloo_equals_one_process_on_the_full_batch(
    name: str, ddp_runs: Path, tmp_path: Path
) -> None:
    """Loss and gradients of a 2-rank run (8 pairs each) equal one process on the 16 pairs:
    negatives (SimCLR, MoCo keys/queue), batch statistics (VICReg) and EMA targets (BYOL) all go
    through the backbone-feature gather. Float32 sums in another order differ by a few float32
    epsilons (1.2e-7) of the summed terms: VICReg's first-layer steps reach |θ₁ − θ₀| ≈ 4 and
    differ by 1.1e-5 between the two runs, so the tolerance is 1e-5 relative to each tensor's
    largest step (at least 1e-5). Dropping the other ranks' gradients in the gather fails it."""
    single = train(ddp_config(name, tmp_path))
    multi = json.loads((ddp_runs / f"{name}.json").read_text())
    assert multi["world_size"] == 2 and single["world_size"] == 1
    assert abs(multi["loss"] - single["loss"]) < 1e-5
    one, two = final_state(tmp_path), final_state(ddp_runs / name)
    assert one.keys() == two.keys()
    theta0 = initial_state(ddp_config(name, tmp_path))
    for key, value in one.items():
        if value.is_floating_point():
            scale = max(1.0, float((value - theta0[key]).abs().max()))
            torch.testing.assert_close(two[key], value, atol=1e-5 * scale, rtol=0, msg=key)
    # the step was not trivially zero: θ₁ − θ₀ = −g is non-zero for the first conv kernel
    key = "backbone.features.0.weight"
    assert float((one[key] - theta0[key]).abs().max()) > 1e-4


# ----------------------------------------------------------------------------- kill and resume

KILL_SCRIPT = textwrap.dedent(
    """
    import os, sys, json
    sys.path.insert(0, {root!r})
    import torch
    torch.set_num_threads(1)
    from paradigms.methods import get_method
    from paradigms.training.config import TrainConfig
    from paradigms.training.loop import train
    cls = get_method("byol")
    original = cls.after_step
    def after_step(self, progress):
        original(self, progress)
        if round(progress * {steps}) == {kill}:
            os._exit(17)  # no clean-up, no final files: as a killed process
    cls.after_step = after_step
    train(TrainConfig(**json.loads({config!r})))
    """
)


def resume_config(out: Path, **kwargs) -> dict:
    options = {**TINY, "method": "byol", "steps": 8, "eval_every": 3, "checkpoint_every": 3,
               "out": str(out)}  # fmt: skip
    options.update(kwargs)
    return options


def test_killed_run_resumes_to_the_same_parameters(tmp_path: Path) -> None:
    """Kill at step 7 (after the step-6 checkpoint), corrupt that checkpoint, resume: the run goes
    back to step 3 (the newest checkpoint that verifies) and ends with exactly the parameters,
    buffers (EMA target, BN statistics, online probe) and metrics of an uninterrupted run."""
    whole = train(TrainConfig(**resume_config(tmp_path / "whole")))
    killed = tmp_path / "killed"
    script = KILL_SCRIPT.format(
        root=str(ROOT), steps=8, kill=7, config=json.dumps(resume_config(killed))
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=300)
    assert proc.returncode == 17, proc.stderr.decode()[-2000:]
    newest = killed / "checkpoints" / "ckpt-000000006.pt"
    assert verify_checkpoint(newest) == 6
    raw = bytearray(newest.read_bytes())
    raw[-10] ^= 0xFF  # one flipped bit-pattern in the payload
    newest.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError):
        verify_checkpoint(newest)
    with pytest.warns(RuntimeWarning, match="skipping bad checkpoint"):
        resumed = train(TrainConfig(**resume_config(killed, resume=True)))
    assert resumed["resumed_from"] == 3 and resumed["status"] == "ok"
    a, b = final_state(tmp_path / "whole"), final_state(killed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    skip = {"seconds", "resumed_from", "config"}
    assert {k: v for k, v in whole.items() if k not in skip} == {
        k: v for k, v in resumed.items() if k not in skip
    }
    assert (tmp_path / "whole" / "metrics.jsonl").read_text() == (
        killed / "metrics.jsonl"
    ).read_text()


def test_resume_refuses_another_configuration(tmp_path: Path) -> None:
    train(TrainConfig(**resume_config(tmp_path, steps=3)))
    with pytest.raises(ValueError, match="different configuration"):
        train(TrainConfig(**resume_config(tmp_path, steps=3, lr=1e-2, resume=True)))


# ----------------------------------------------------------------------------- Fashion-MNIST


@pytest.mark.skipif(
    not (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"Fashion-MNIST not installed in {FASHION_MNIST_DIR} (apt-get install "
    "dataset-fashion-mnist)",
)
def test_fashion_mnist_real_files_train(tmp_path: Path) -> None:
    """The reader on the real files: 60000 + 10000 images of 1×28×28, 10 balanced classes (the
    data set's published layout: 6000 training images per class), and a short run on a subset."""
    from paradigms.data.images import load_image_dataset

    train_set = load_image_dataset("fashion-mnist", None, "train")
    test_set = load_image_dataset("fashion-mnist", None, "test")
    assert tuple(train_set.images.shape) == (60000, 1, 28, 28)
    assert tuple(test_set.images.shape) == (10000, 1, 28, 28)
    assert train_set.images.dtype == torch.uint8
    assert torch.bincount(train_set.labels).tolist() == [6000] * 10
    summary = train(
        tiny(method="simclr", data="fashion-mnist", data_options={"n_train": 256, "n_test": 64})
    )
    assert summary["status"] == "ok" and summary["steps_done"] == 2


def test_byol_recipe_views_are_asymmetric() -> None:
    """BYOL's recipe: view B (solarize p = 0.2) differs in distribution from view A (none), so the
    data carries a second augmentation; SimCLR's two views share one configuration."""
    byol = load_dataset("digits", recipe="byol")
    simclr = load_dataset("digits", recipe="simclr")
    assert simclr.augment_b is None
    assert byol.augment_b is not None
    assert byol.augment.config.solarize_p == 0.0 and byol.augment_b.config.solarize_p == 0.2
    gen = torch.Generator().manual_seed(0)
    x_a, x_b = byol.views(byol.train_x[:32], gen)
    assert x_a.shape == x_b.shape == (32, 1, 8, 8)


def test_bf16_autocast_and_channels_last_path_runs_on_cpu(tmp_path: Path) -> None:
    """The CUDA defaults (bf16 autocast, channels_last) exercised on CPU: the loss is computed in
    fp32 from bf16 activations and stays within bf16 rounding of the fp32 run's first-step loss
    (8 mantissa bits: relative error ~ 2⁻⁸ per op; 5 % allows for a few dozen layers)."""
    fp32 = train(tiny(method="simclr", steps=1, eval_every=1))
    bf16 = train(tiny(method="simclr", steps=1, eval_every=1, amp=True, channels_last=True))
    assert bf16["status"] == "ok"
    assert isinstance(bf16["loss"], float)
    assert abs(bf16["loss"] - fp32["loss"]) <= 0.05 * abs(fp32["loss"])

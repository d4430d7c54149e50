"""Training loop, files written, clean stops and the ``mitheory train`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mitheory.cli import main
from paradigms.training.config import TrainConfig
from paradigms.training.loop import train

torch.set_num_threads(1)
SMALL = {"n_train": 256, "n_test": 128}
METRIC_FIELDS = {
    "step", "loss", "mi_cosdv", "mi_infonce", "mi_jsd", "embed_std", "effective_rank",
    "cluster_separation", "probe_acc", "knn_acc",
}  # fmt: skip


def small_config(tmp_path: Path, **kwargs) -> TrainConfig:
    options = {
        "method": "jmi",
        "steps": 12,
        "batch_size": 32,
        "eval_every": 5,
        "eval_pairs": 128,
        "probe_train": 128,
        "progress": False,
        "out": str(tmp_path),
        "data_options": SMALL,
    }
    options.update(kwargs)
    return TrainConfig(**options)


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_train_writes_metrics_and_summary(tmp_path: Path) -> None:
    summary = train(small_config(tmp_path))
    lines = read_lines(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in lines] == [0, 5, 10, 12]  # step 0, every 5, and the last step
    for record in lines:
        assert METRIC_FIELDS <= set(record)
    assert lines[0]["loss"] is None and all(isinstance(r["loss"], float) for r in lines[1:])
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk == summary
    assert summary["status"] == "ok" and summary["reason"] == ""
    assert summary["steps_done"] == 12 and summary["final_step"] == 12
    assert summary["mi_cosdv"] == lines[-1]["mi_cosdv"]
    assert summary["initial"]["probe_acc"] == lines[0]["probe_acc"]
    assert isinstance(summary["collapsed"], bool)
    assert -1.0 <= summary["mi_monotonicity"] <= 1.0
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_linear_probe_schedule(tmp_path: Path) -> None:
    train(small_config(tmp_path, probe_every=100))
    lines = read_lines(tmp_path / "metrics.jsonl")
    assert ["probe_acc" in r for r in lines] == [True, False, False, True]
    assert all("knn_acc" in r for r in lines)


def test_training_is_deterministic_on_cpu(tmp_path: Path) -> None:
    first = train(small_config(tmp_path / "a", method="mocov2", seed=3))
    second = train(small_config(tmp_path / "b", method="mocov2", seed=3))
    other = train(small_config(tmp_path / "c", method="mocov2", seed=4))
    drop = ("seconds", "config")
    assert {k: v for k, v in first.items() if k not in drop} == {
        k: v for k, v in second.items() if k not in drop
    }
    assert first["mi_cosdv"] != other["mi_cosdv"]


def test_sdmi_runs_both_blocks_and_an_ablated_variant(tmp_path: Path) -> None:
    summary = train(small_config(tmp_path, method="sdmi", ablate="alternating,predictor"))
    assert summary["status"] == "ok" and summary["ablate"] == ["alternating", "predictor"]
    assert summary["paradigm"] == "sdmi"


def test_non_finite_loss_stops_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NaN appearing mid-run: the run stops, the reason is recorded, no NaN reaches the files."""
    from paradigms.methods.jmi import JMI

    calls = {"n": 0}
    original = JMI.objective

    def objective_turning_nan(self, z_a, z_b):
        calls["n"] += 1
        loss = original(self, z_a, z_b)
        return loss * float("nan") if calls["n"] >= 7 else loss

    monkeypatch.setattr(JMI, "objective", objective_turning_nan)
    summary = train(small_config(tmp_path))
    assert summary["status"] == "stopped"
    assert "non-finite loss" in summary["reason"] and "step 7" in summary["reason"]
    assert summary["steps_done"] == 6 and summary["final_step"] == 5
    text = (tmp_path / "metrics.jsonl").read_text() + (tmp_path / "summary.json").read_text()
    assert "NaN" not in text and "Infinity" not in text


def test_failing_monitor_stops_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Non-finite embeddings make the monitors raise; the run stops at once with the reason."""
    from paradigms.training import loop

    def broken(*args, **kwargs):
        raise ValueError("z_a contains NaN or infinite values; expected finite embeddings")

    monkeypatch.setattr(loop, "collect_metrics", broken)
    summary = train(small_config(tmp_path))
    assert summary["status"] == "stopped" and summary["steps_done"] == 0
    assert summary["reason"].startswith("monitors failed at step 0: z_a contains NaN")
    assert summary["collapsed"] is None
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "stopped"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": 0}, "steps must be a positive integer"),
        ({"steps": -5}, "steps must be a positive integer"),
        ({"method": "swav"}, "unknown method 'swav'"),
        ({"ablate": "dropout"}, "unknown ablation"),
        ({"method": "simclr", "ablate": "predictor"}, "do not apply to method 'simclr'"),
        ({"method": "simsiam", "ablate": "alternating"}, "do not apply"),
        ({"lr": float("nan")}, "lr must be a finite number"),
        ({"batch_size": 1}, "batch_size"),
    ],
)
def test_config_rejects_bad_input(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        small_config(tmp_path, **kwargs)


def test_unknown_data_and_device_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown data set 'gaussian'"):
        train(small_config(tmp_path, data="gaussian"))
    with pytest.raises(ValueError, match="unknown device"):
        train(small_config(tmp_path, device="tpu9"))


def test_cli_train_success(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = main(
        ["train", "--method", "vicreg", "--steps", "6", "--eval-every", "3", "--batch-size", "32",
         "--out", str(out), "--no-progress", "--seed", "1"]
    )  # fmt: skip
    assert code == 0
    assert "vicreg: MI(cos-DV)" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["batch_size"] == 32 and summary["seed"] == 1
    assert len(read_lines(out / "metrics.jsonl")) == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--method", "jmi", "--steps", "0"], "steps must be a positive integer"),
        (["--method", "nope"], "unknown method 'nope'"),
        (["--method", "simclr", "--ablate", "predictor"], "do not apply to method 'simclr'"),
        (["--method", "jmi", "--ablate", "marginal,foo"], "unknown ablation(s) 'foo'"),
    ],
)
def test_cli_train_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["train", *argv, "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_train_diverging_run_stops_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A learning rate of 1e30 overflows the weights within a few steps: exit code 1, a one-line
    reason on stderr and in summary.json, no traceback."""
    code = main(
        ["train", "--method", "vicreg", "--steps", "30", "--lr", "1e30", "--batch-size", "32",
         "--out", str(tmp_path), "--no-progress"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("mitheory train: stopped:") and len(err.strip().splitlines()) == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["reason"] in err


def test_on_eval_hook_sees_the_held_out_views_at_every_evaluation():
    from paradigms.training.config import TrainConfig
    from paradigms.training.loop import train

    seen = []

    def hook(step, method, x_a, x_b):
        assert not method.training and not torch.is_grad_enabled()
        seen.append((step, tuple(x_a.shape), tuple(x_b.shape)))

    train(TrainConfig(method="simclr", steps=20, eval_every=10, progress=False), on_eval=hook)
    assert [s for s, _, _ in seen] == [0, 10, 20]
    assert all(a == b and a[0] == 512 for _, a, b in seen)


@pytest.mark.parametrize("track", ["mi", "surrogate"])
def test_tracking_does_not_change_the_training_run(track: str) -> None:
    """The P1/P2 held-out estimator trains a critic inside the hook (on a forked global RNG) and
    P7's probe takes gradients there (``autograd.grad``, eval mode), so a tracked run equals the
    untracked one (the P3 arm it doubles as)."""
    from mitheory.claims.training import train_run

    key = ("sdmi", "", (("target_update", "ema"),), 20, "probe")
    plain = train_run(key, 0)["summary"]
    tracked = train_run((*key[:4], f"probe,{track}"), 0)
    if track == "mi":
        assert len(tracked["heldout"]) == 6
    else:
        assert len(tracked["surrogate"]["curve"]) == 6 and "dv_z" in tracked["surrogate"]["final"]
    for k in ("mi_cosdv", "effective_rank", "embed_std", "probe_acc"):
        assert tracked["summary"][k] == plain[k], k


def test_runs_without_the_linear_probe_skip_it_and_keep_the_rest() -> None:
    config = dict(method="vicreg", steps=10, eval_every=5, progress=False)
    with_probe = train(TrainConfig(**config))
    without = train(TrainConfig(**config, linear_probe=False))
    assert "probe_acc" in with_probe and "probe_acc" not in without
    assert "probe_acc" not in without["initial"]
    assert without["knn_acc"] == with_probe["knn_acc"] and without["loss"] == with_probe["loss"]
    with pytest.raises(ValueError, match="linear_probe must be True or False"):
        TrainConfig(method="vicreg", linear_probe="no")


def test_cli_train_refuses_to_overwrite_a_run_unless_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--method", "vicreg", "--steps", "4", "--eval-every", "2", "--batch-size",
            "32", "--out", str(tmp_path), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    before = (tmp_path / "summary.json").read_text()
    capsys.readouterr()
    assert main([*argv, "--seed", "3"]) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--overwrite" in err and "--resume" in err
    assert (tmp_path / "summary.json").read_text() == before  # untouched
    assert main([*argv, "--seed", "3", "--overwrite"]) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["seed"] == 3


def test_cli_train_refuses_a_recipe_of_another_method(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "--method", "byol", "--recipe", "simclr-fashion-mnist", "--out",
                 str(tmp_path), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "is for method 'simclr', not 'byol'" in err


def test_cli_data_errors_name_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--method", "simclr", "--data", "cifar10", "--backbone", "smallcnn",
                 "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--data-root" in err


def test_train_help_names_an_attribute_that_exists() -> None:
    import importlib

    from mitheory.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    method = next(a for a in sub.choices["train"]._actions if a.dest == "method")
    module, _, attr = "paradigms.methods.METHODS".rpartition(".")
    assert "paradigms.methods.METHODS" in method.help
    registry = getattr(importlib.import_module(module), attr)
    assert all(name in method.help for name in registry)


def test_default_backbone_follows_the_data(tmp_path: Path) -> None:
    """Images get the small CNN by default (``--data digits`` used to fail with the MLP)."""
    summary = train(small_config(tmp_path, data="digits", steps=2, eval_every=2, data_options={}))
    assert summary["status"] == "ok" and summary["backbone"] == "smallcnn"
    assert train(small_config(tmp_path / "v", steps=2, eval_every=2))["backbone"] == "mlp"


def test_collapse_at_initialization_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The summary applies the collapse rule to the step-0 embeddings too, and the command line
    warns when a run starts out collapsed (a random-init CNN can: RankMe 1.5 on Fashion-MNIST)."""
    summary = train(small_config(tmp_path / "a", steps=2, eval_every=2))
    initial = summary["initial"]
    from paradigms.measurement.monitors import is_collapsed

    dim = initial["embedding_dim"]
    expected = is_collapsed(initial["embed_std"], initial["effective_rank"], dim)
    assert summary["collapsed_at_init"] is expected is False
    from paradigms.training import cli

    collapsed_start = {**summary, "collapsed_at_init": True,
                       "initial": {**initial, "effective_rank": 1.5}}  # fmt: skip
    monkeypatch.setattr(cli, "train", lambda config: collapsed_start)
    assert main(["train", "--method", "jmi", "--steps", "2", "--out", str(tmp_path / "b"),
                 "--no-progress"]) == 0  # fmt: skip
    note = "collapsed already at random initialization (effective rank 1.5"
    assert note in capsys.readouterr().err


def test_claim_runs_batch_their_seeds_and_can_share_a_data_set(monkeypatch) -> None:
    """``train_seeds`` trains a key's seeds through the batched engine; each run is its solo run
    up to float32 rounding (the engine's own float64 equality is tests/test_batched.py; after 20
    steps the monitors differ by ≤ 4.3e-5 relative, measured; 2e-4 leaves room for other BLAS
    builds and still fails on a run handed another seed's batches). A (seed, data seed)
    pair shares the data set of the data seed and nothing else (P1's null factor). The runs'
    held-out read-outs (3 runs × 6 evaluations) are made after training in one shared critic
    loop; each must equal the read-out of its own embeddings with its run's seed, alone (float32
    rounding of stacked products: ≤ 1e-5 nats; a read-out filed under another evaluation or
    read with another run's seed differs by more than 1e-2)."""
    from mitheory.claims import training as tr
    from mitheory.claims.training import train_run, train_seeds

    deferred = []

    def recording(trackers):
        deferred.extend((entry, a, b, t.seed, o) for t in trackers for entry, a, b, o in t.pending)
        original(trackers)

    original = tr.read_held_out
    monkeypatch.setattr(tr, "read_held_out", recording)
    key = ("sdmi", "", (), 20, "mi-quick")
    batched = train_seeds(key, (0, 1, (5, 0)))
    monkeypatch.undo()
    assert len(deferred) == 18 and len({s for *_, s, _ in deferred}) == 3
    for entry, a, b, seed, options in deferred[::5]:
        alone = tr.held_out_mi(a, b, seed, options)
        assert abs(entry["mi"] - alone["mi"]) < 1e-5 and abs(entry["se"] - alone["se"]) < 1e-5
    for seed, run in ((0, batched[0]), (1, batched[1])):
        solo = train_run(key, seed)["summary"]
        for k in ("mi_cosdv", "effective_rank", "embed_std"):
            assert run["summary"][k] == pytest.approx(solo[k], rel=2e-4), (seed, k)
    from paradigms.data import load_dataset
    from paradigms.training import distributed as dist_utils
    from paradigms.training.loop import _setup

    ctx = dist_utils.DistContext(device=torch.device("cpu"))
    shared = _setup(TrainConfig(method="sdmi", seed=5, data_options={"seed": 0}), ctx, None)
    assert torch.equal(shared.data.train_x, load_dataset("gaussian-mixture", seed=0).train_x)
    own = _setup(TrainConfig(method="sdmi", seed=5), ctx, None)
    assert not torch.equal(own.data.train_x, shared.data.train_x)
    assert batched[2]["summary"]["mi_cosdv"] != batched[0]["summary"]["mi_cosdv"]

"""`mitheory estimate X Y --method M [--json]` through mitheory.cli.main, on files in a tmp dir."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mitheory.cli import main


def _write_pair(folder, n=60, rho=0.8, seed=0, fmt="npy"):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = rho * x + math.sqrt(1 - rho**2) * rng.normal(size=(n, 2))
    px, py = folder / f"x.{fmt}", folder / f"y.{fmt}"
    if fmt == "npy":
        np.save(px, x)
        np.save(py, y)
    else:
        np.savetxt(px, x, delimiter=",")
        np.savetxt(py, y, delimiter=",")
    return px, py, x, y


def _run_json(capsys, args):
    code = main(args)
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out)


@pytest.mark.parametrize(("fmt", "method"), [("npy", "smile"), ("csv", "gaussian")])
def test_estimate_json_fields(tmp_path, capsys, fmt, method):
    px, py, x, y = _write_pair(tmp_path, fmt=fmt)
    doc = _run_json(capsys, ["estimate", str(px), str(py), "--method", method, "--json"])
    assert set(doc) == {"method", "mi", "ci", "unit", "n", "seconds", "flags"}
    assert doc["method"] == method and doc["unit"] == "nats" and doc["n"] == x.shape[0]
    assert isinstance(doc["mi"], float) and doc["seconds"] >= 0
    lo, hi = doc["ci"]
    assert lo <= doc["mi"] <= hi
    # the command line reports what the library computes for the same files and seed
    from estimators import estimate_mi

    if fmt == "csv":
        x, y = np.loadtxt(px, delimiter=","), np.loadtxt(py, delimiter=",")
    assert doc["mi"] == pytest.approx(estimate_mi(x, y, method=method, seed=0).mi, abs=1e-12)


def test_estimate_text_output(tmp_path, capsys):
    px, py, *_ = _write_pair(tmp_path)
    assert main(["estimate", str(px), str(py), "--method", "gaussian"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gaussian: I = ") and "nats" in out and "95% CI" in out


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda d: (d / "missing.npy", d / "y.npy"), "no such file"),
        (lambda d: (d / "x.txt.gz", d / "y.npy"), "no such file"),
        (lambda d: (d / "bad.json", d / "y.npy"), "expected a .npy or .csv"),
        (lambda d: (d / "words.csv", d / "y.npy"), "not a numeric"),
        (lambda d: (d / "short.npy", d / "y.npy"), "same number of samples"),
        (lambda d: (d / "nan.npy", d / "y.npy"), "NaN"),
    ],
)
def test_bad_files_exit_2_with_message(tmp_path, capsys, make, fragment):
    _write_pair(tmp_path)
    (tmp_path / "bad.json").write_text("{}")
    (tmp_path / "words.csv").write_text("a,b\nc,d\n")
    np.save(tmp_path / "short.npy", np.arange(10.0))
    bad = np.arange(60.0)
    bad[3] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    px, py = make(tmp_path)
    code = main(["estimate", str(px), str(py), "--method", "gaussian", "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert fragment in captured.err and captured.err.startswith("mitheory estimate: error:")


def test_default_is_auto_and_says_which_method_and_why(tmp_path, capsys):
    px, py, *_ = _write_pair(tmp_path, n=300)
    doc = _run_json(capsys, ["estimate", str(px), str(py), "--json"])
    assert doc["method"] == "auto" and doc["chosen"] in ("flow", "ksg") and doc["reason"]
    assert doc["mi_ci"][0] < doc["ci"][0] <= doc["ci"][1] < doc["mi_ci"][1]
    assert main(["estimate", str(px), str(py)]) == 0
    out = capsys.readouterr().out
    assert "MI interval" in out and f"method: {doc['chosen']} — " in out


def test_method_options_and_base_reach_the_library(tmp_path, capsys):
    from estimators import estimate_mi

    px, py, x, y = _write_pair(tmp_path, n=200)
    args = ["estimate", str(px), str(py), "--json"]
    ksg7 = _run_json(capsys, [*args, "--method", "ksg", "--k", "7"])
    assert ksg7["mi"] == pytest.approx(estimate_mi(x, y, method="ksg", k=7).mi, abs=1e-12)
    assert ksg7["mi"] != pytest.approx(estimate_mi(x, y, method="ksg").mi, abs=1e-6)
    bits = _run_json(capsys, [*args, "--method", "gaussian", "--base", "2"])
    assert bits["unit"] == "bits"
    assert bits["mi"] == pytest.approx(estimate_mi(x, y, method="gaussian").mi / math.log(2))
    flow = _run_json(capsys, [*args, "--method", "flow", "--folds", "3",
                              "--option", "max_steps=20", "--option", "layers=1"])  # fmt: skip
    lib = estimate_mi(x, y, method="flow", folds=3, max_steps=20, layers=1)
    assert flow["mi"] == pytest.approx(lib.mi, abs=1e-12)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--option", "max_steps"], "--option expects NAME=VALUE"),
        (["--option", "hidden=3"], "pass them as --option NAME=VALUE"),
        (["--base", "one"], "--base must be"),
    ],
)
def test_bad_options_exit_2_in_flag_words(tmp_path, capsys, extra, fragment):
    px, py, *_ = _write_pair(tmp_path)
    assert main(["estimate", str(px), str(py), "--method", "flow", *extra]) == 2
    assert fragment in capsys.readouterr().err


def test_drop_constant_and_warnings_on_stderr(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = np.hstack([rng.integers(0, 3, size=(200, 1)).astype(float), np.ones((200, 1))])
    y = x[:, :1] + rng.normal(size=(200, 1))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    args = ["estimate", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--method", "ksg"]
    assert main(args) == 2
    assert "--drop-constant" in capsys.readouterr().err
    assert main([*args, "--drop-constant"]) == 0
    err = capsys.readouterr().err
    assert "mitheory estimate: warning: discrete: x column(s) [0]" in err


def test_unknown_method_exit_2(tmp_path, capsys):
    px, py, *_ = _write_pair(tmp_path)
    assert main(["estimate", str(px), str(py), "--method", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown method 'nope'" in err and "smile" in err


def test_version_flag_and_attribute(capsys):
    """``mitheory --version`` prints the installed package's version, also ``__version__``."""
    from importlib.metadata import version

    import mitheory

    assert mitheory.__version__ == version("mitheory")
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"mitheory {version('mitheory')}"


def test_discrete_labels_in_flag_words(tmp_path, capsys):
    """``--discrete y`` runs the mixed KSG on a label file; without it the discrete flag names the
    flag, not the Python keyword; ``--discrete`` with a neural method exits 2 naming --method."""
    from estimators import estimate_mi
    from mitheory.distributions import ClassGaussians

    x, y = ClassGaussians(3, 2, 1.0).sample(400, seed=0)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    args = ["estimate", str(tmp_path / "x.npy"), str(tmp_path / "y.npy")]
    doc = _run_json(capsys, [*args, "--method", "ksg", "--discrete", "y", "--json"])
    lib = estimate_mi(x, y, method="ksg", discrete="y")
    assert doc["mi"] == pytest.approx(lib.mi, abs=1e-12) and doc["flags"] == []
    assert doc["mi"] != pytest.approx(estimate_mi(x, y, method="ksg").mi, abs=1e-6)
    assert main([*args, "--method", "ksg"]) == 0
    err = capsys.readouterr().err
    assert "--discrete y runs the mixed" in err and "discrete='y'" not in err
    assert main([*args, "--method", "smile", "--discrete", "y"]) == 2
    err = capsys.readouterr().err
    assert "--discrete y is estimated by the mixed KSG: use --method ksg" in err


def test_save_critic_writes_a_critic_the_library_loads(tmp_path, capsys):
    import torch

    from estimators import estimate_mi, load_critic

    px, py, x, y = _write_pair(tmp_path, n=200)
    path = tmp_path / "critic.pt"
    args = ["estimate", str(px), str(py), "--method", "dv", "--folds", "2",
            "--option", "max_steps=50"]  # fmt: skip
    doc = _run_json(capsys, [*args, "--save-critic", str(path), "--json"])
    assert doc["critic"] == str(path)
    lib = estimate_mi(x, y, method="dv", folds=2, max_steps=50, return_critic=True)
    assert torch.equal(load_critic(path).scores(x, y), lib.critic.scores(x, y))
    assert main(["estimate", str(px), str(py), "--save-critic", str(path)]) == 2
    assert "--save-critic keeps the critics of the neural methods" in capsys.readouterr().err


def test_y_equal_to_x_prints_json_with_an_open_interval_not_a_traceback(tmp_path, capsys):
    """y = x crashed the command line with a raw Cholesky traceback (issue 26); now one JSON
    object: the MI infinite (null), the interval open above, the 'resolution' flag, the choice
    and its candidates; ``--threads`` is accepted."""
    x = np.random.default_rng(0).normal(size=(800, 1))
    px, py = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(px, x)
    np.save(py, x)
    doc = _run_json(capsys, ["estimate", str(px), str(py), "--json", "--threads", "1"])
    assert doc["mi"] is None and doc["mi_ci"][1] is None
    assert any(f.startswith("resolution") for f in doc["flags"])
    assert doc["chosen"] in doc["candidates"] and doc["reason"]


def test_a_bad_thread_count_is_reported_in_flag_words(tmp_path, capsys):
    px, py, _, _ = _write_pair(tmp_path)
    code = main(["estimate", str(px), str(py), "--threads", "0"])
    err = capsys.readouterr().err
    assert code != 0 and "--threads must be a positive integer" in err

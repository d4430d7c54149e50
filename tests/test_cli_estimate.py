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
    assert set(doc) == {"method", "mi", "ci", "unit", "n", "seconds"}
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

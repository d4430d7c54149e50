"""Atomic writes: the target is either the old file or the complete new one."""

import json

import pytest

from estimators.atomic import atomic_write, atomic_write_json, atomic_write_text


def test_write_then_overwrite(tmp_path):
    p = tmp_path / "sub" / "a.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert [f.name for f in p.parent.iterdir()] == ["a.txt"]  # no temporaries left


def test_failed_write_keeps_old_file_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write_text(p, "old")

    def broken(tmp):
        with open(tmp, "w") as fh:
            fh.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(p, broken)
    assert p.read_text() == "old"
    assert [f.name for f in tmp_path.iterdir()] == ["a.txt"]


def test_json_rejects_nan(tmp_path):
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "r.json", {"mi": float("nan")})
    assert not (tmp_path / "r.json").exists()
    atomic_write_json(tmp_path / "r.json", {"mi": 1.5})
    assert json.loads((tmp_path / "r.json").read_text()) == {"mi": 1.5}


def test_written_file_has_the_umask_mode(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        p = atomic_write_text(tmp_path / "m.txt", "x")
    finally:
        os.umask(mask)
    assert (p.stat().st_mode & 0o777) == 0o644

"""The atomic-write helper every output, cache and sidecar writer uses."""

from __future__ import annotations

import stat

import pytest

from summariser.files import atomic_open, atomic_write_bytes, atomic_write_text, fsync_directory


def _names(directory):
    return sorted(p.name for p in directory.iterdir())


def test_text_and_bytes_replace_the_target_and_leave_no_temp(tmp_path):
    out = tmp_path / "a.json"
    out.write_text("old", encoding="utf-8")
    atomic_write_text(out, "néw\n")
    assert out.read_text(encoding="utf-8") == "néw\n"
    atomic_write_bytes(out, b"\x00\x01")
    assert out.read_bytes() == b"\x00\x01"
    assert _names(tmp_path) == ["a.json"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # not mkstemp's private 0o600


def test_an_error_inside_the_block_keeps_the_old_file_and_removes_the_temp(tmp_path):
    out = tmp_path / "model.gguf"
    out.write_bytes(b"old")
    seen = []
    with pytest.raises(RuntimeError, match="half way"):
        with atomic_open(out, "wb", suffix=".partial") as handle:
            handle.write(b"half")
            seen = _names(tmp_path)
            raise RuntimeError("half way")
    # While writing, the temp is a hidden sibling named after the target.
    assert len(seen) == 2 and any(n.startswith(".model.gguf.") and n.endswith(".partial") for n in seen)
    assert out.read_bytes() == b"old" and _names(tmp_path) == ["model.gguf"]


def test_options_reach_the_file(tmp_path):
    out = tmp_path / "t.csv"
    with atomic_open(out, newline="", permissions=0o600, fsync=False) as handle:
        handle.write("a\r\nb\n")
    assert out.read_bytes() == b"a\r\nb\n" and stat.S_IMODE(out.stat().st_mode) == 0o600
    atomic_write_text(out, "x\n", encoding="utf-16")
    assert out.read_text(encoding="utf-16") == "x\n"


def test_a_missing_directory_or_bad_mode_is_an_error_with_nothing_written(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write_text(tmp_path / "absent" / "a.txt", "x")
    with pytest.raises(ValueError, match="'w' or 'wb'"):
        with atomic_open(tmp_path / "a.txt", "a"):
            pass
    assert _names(tmp_path) == []
    fsync_directory(tmp_path)  # best effort, never raises
    fsync_directory(tmp_path / "absent")

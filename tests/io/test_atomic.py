"""lmlab.io.atomic: a set of files written as one unit survives a kill or a full disk at every write point.

The kills are real: a forked process ends with os._exit at write point K (LMLAB_FAULT=kill:K), leaving
whatever it had written, as `kill -9` would. The full disk is real too: a small tmpfs (as root).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

import lmlab.io.atomic as atomic
from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write_text, read_manifest, recover_set, resolve_set, write_set

MANIFEST = "set.json"
NAMES = ("a.bin", "b.bin")
# the write points of replacing a two-file set: both written, both kept as .prev, both in place,
# the manifest written and renamed (from here on the new set is the complete one), the .prev names gone
POINTS = 10
NEW_FROM = 8


def writers(tag: bytes, size: int = 1000) -> dict:
    def write(name):
        return lambda tmp: Path(tmp).write_bytes(tag + name.encode() * size)
    return {name: write(name) for name in NAMES}


def contents(paths: dict[str, Path]) -> set[bytes]:
    """Which version ('old'/'new') each file of a resolved set holds."""
    return {paths[n].read_bytes()[:3] for n in NAMES}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".prev")))


@pytest.fixture
def folder(tmp_path) -> Path:
    write_set(tmp_path, writers(b"old"), MANIFEST, {"step": 1})
    return tmp_path


def test_a_set_names_its_files_with_sizes_and_checksums(folder):
    meta = json.loads((folder / MANIFEST).read_text())
    assert meta["step"] == 1 and set(meta["files"]) == set(NAMES)
    for name, entry in meta["files"].items():
        assert entry["bytes"] == (folder / name).stat().st_size
        assert entry["sha256"] == atomic.file_digest(folder / name)
    assert leftovers(folder) == []


@pytest.mark.parametrize("point", range(1, POINTS + 1))
def test_a_kill_at_every_write_point_leaves_a_complete_set(folder, run_in_child, point):
    code = run_in_child(lambda: write_set(folder, writers(b"new"), MANIFEST, {"step": 2}),
                        {"LMLAB_FAULT": f"kill:{point}"})
    assert code == 86, "the child was not killed at that write point"
    paths, failed = resolve_set(folder, MANIFEST, NAMES)
    want = {b"new"} if point >= NEW_FROM else {b"old"}
    assert failed == [] and contents(paths) == want
    assert read_manifest(folder, MANIFEST)["step"] == (2 if point >= NEW_FROM else 1)
    recover_set(folder, MANIFEST)  # what --resume does first
    assert leftovers(folder) == []
    assert resolve_set(folder, MANIFEST, NAMES)[0] == {n: folder / n for n in NAMES}
    assert contents({n: folder / n for n in NAMES}) == want


def test_there_are_that_many_write_points(folder, run_in_child):
    assert run_in_child(lambda: write_set(folder, writers(b"new"), MANIFEST, {"step": 2}),
                        {"LMLAB_FAULT": f"kill:{POINTS + 1}"}) == 0


@pytest.mark.parametrize("point", range(1, POINTS + 1))
def test_an_error_at_every_write_point_puts_the_old_set_back(folder, monkeypatch, point):
    monkeypatch.setenv("LMLAB_FAULT", f"fail:{point}")
    monkeypatch.setattr(atomic, "_points", 0)
    if point <= NEW_FROM:
        with pytest.raises(LmlabError, match="no space left on the device"):
            write_set(folder, writers(b"new"), MANIFEST, {"step": 2})
    else:  # the new set is complete: a .prev that could not be removed goes at the next save or resume
        write_set(folder, writers(b"new"), MANIFEST, {"step": 2})
    monkeypatch.delenv("LMLAB_FAULT")
    paths, failed = resolve_set(folder, MANIFEST, NAMES)
    assert failed == []
    assert contents(paths) == ({b"new"} if point >= NEW_FROM else {b"old"})
    if point < NEW_FROM:  # rolled back at once: nothing for a later reader to sort out
        assert paths == {n: folder / n for n in NAMES} and leftovers(folder) == []


def test_a_folder_without_a_manifest_takes_prev_first(tmp_path):
    """A crash during the first save into a folder written before manifests: the .prev files are the old ones."""
    for name in NAMES:
        (tmp_path / name).write_bytes(b"new")
        (tmp_path / (name + ".prev")).write_bytes(b"old")
    paths, failed = resolve_set(tmp_path, MANIFEST, NAMES)
    assert contents(paths) == {b"old"} and failed == []


def test_a_file_changed_since_is_reported(folder):
    (folder / "a.bin").write_bytes(b"something else")
    paths, failed = resolve_set(folder, MANIFEST, NAMES)
    assert failed == ["a.bin"] and paths["a.bin"] == folder / "a.bin"


def test_a_damaged_manifest_says_so(folder):
    (folder / MANIFEST).write_text("{not json")
    with pytest.raises(LmlabError, match="set.json is corrupt"):
        resolve_set(folder, MANIFEST, NAMES)


def test_stale_temporaries_are_cleaned(folder):
    (folder / ".a.bin.x1y2.tmp").write_bytes(b"half")
    write_set(folder, writers(b"new"), MANIFEST, {"step": 2})
    assert leftovers(folder) == []


def test_a_full_disk_keeps_the_old_set_and_says_so(tmpfs):
    disk = tmpfs("256k")
    write_set(disk, writers(b"old", size=10_000), MANIFEST, {"step": 1})
    big = {"a.bin": lambda tmp: torch.save({"w": torch.zeros(40_000)}, tmp),   # torch: "unexpected pos …"
           "b.bin": lambda tmp: Path(tmp).write_bytes(b"x" * 200_000)}
    with pytest.raises(LmlabError, match=r"no space left on the device holding .*disk0.* free\); free some space"):
        write_set(disk, big, MANIFEST, {"step": 2})
    paths, failed = resolve_set(disk, MANIFEST, NAMES)
    assert failed == [] and contents(paths) == {b"old"} and leftovers(disk) == []


def test_a_single_file_on_a_full_disk(tmpfs):
    disk = tmpfs("64k")
    with pytest.raises(LmlabError, match="no space left on the device holding .*big.txt"):
        atomic_write_text(disk / "big.txt", "x" * 200_000)
    assert os.listdir(disk) == []


def test_a_read_only_folder(tmpfs, tmp_path):
    disk = tmpfs("64k")
    os.system(f"mount -o remount,ro {disk}")
    with pytest.raises(LmlabError, match="cannot write .*: Read-only file system"):
        atomic_write_text(disk / "x.txt", "x")


def test_a_folder_that_is_not_empty_names_the_flag_not_the_argument(tmp_path):
    from lmlab.io.atomic import write_json_and_tensors
    (tmp_path / "x").write_text("x")
    with pytest.raises(LmlabError) as e:
        write_json_and_tensors(tmp_path, "config.json", {}, "model.safetensors", {"w": torch.zeros(1)})
    assert "--overwrite" in str(e.value) and "overwrite=True" not in str(e.value)

"""Atomic writes: one file (temporary file in the same folder, fsync, rename over the target), a set of
files that must change together (a checkpoint: a manifest written last names the complete set), or a
folder of one JSON config and one safetensors file (a Hugging Face model, a peft adapter).

The set follows the write-ahead idea of databases and of `git` (objects first, the ref last): new files
are written as temporaries and fsynced; the current files get a second name `NAME.prev` (a hard link, no
copy); the temporaries are renamed over the current names; the manifest (names, sizes, SHA-256) replaces
the old one in one rename; the `.prev` names go. A kill at any point leaves either the old manifest with
its files (at their names or as `.prev`) or the new manifest with its files: `resolve_set` finds them.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import save_file

from lmlab.errors import LmlabError

_UMASK = os.umask(0)
os.umask(_UMASK)
PREV = ".prev"   # the previous checkpoint's files while a new set replaces them

# ---- fault injection (tests only): LMLAB_FAULT=kill:K ends the process at the K-th write point as a
# `kill -9` would (no clean-up runs); LMLAB_FAULT=fail:K raises "no space left on device" there instead;
# LMLAB_FAULT=list prints every write point to stderr.
_points = 0


def write_point(what: str) -> None:
    """A step of a write after which a crash must leave the files readable; counted for LMLAB_FAULT."""
    global _points
    fault = os.environ.get("LMLAB_FAULT")
    if not fault:
        return
    _points += 1
    mode, _, at = fault.partition(":")
    if mode == "list":
        print(f"LMLAB_FAULT: write point {_points} ({what})", file=sys.stderr, flush=True)
    if str(_points) != at:
        return
    if mode == "kill":
        print(f"LMLAB_FAULT: killed at write point {_points} ({what})", file=sys.stderr, flush=True)
        os._exit(86)
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), what)


# ---- what went wrong, in one line -----------------------------------------------------------------
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_NO_WRITE = (errno.EACCES, errno.EPERM, errno.EROFS)


def disk_free(path: str | Path) -> int:
    """Bytes free to this user on the filesystem holding `path` (or its nearest existing parent)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def write_error(e: BaseException, path: str | Path, free: int | None = None) -> LmlabError | None:
    """An LmlabError naming the real cause of a failed write to `path` (a full disk, no permission, a
    read-only filesystem), or None for anything else. `free`: bytes free measured right after the failure,
    which tells a full disk when the writer hides the errno (torch.save: "unexpected pos ...")."""
    code = getattr(e, "errno", None)
    writer_failed = isinstance(e, (OSError, RuntimeError, SafetensorError))  # torch.save, safetensors, files
    if code in _DISK_FULL or (writer_failed and free is not None and free < 2**20):
        return LmlabError(f"no space left on the device holding {path} ({free_text(path)} free); free some "
                          "space or write elsewhere")
    if code in _NO_WRITE:
        return LmlabError(f"cannot write {path}: {os.strerror(code)}; choose a folder you can write to")
    return None


def free_text(path: str | Path) -> str:
    n = float(disk_free(path))
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


# ---- one file ---------------------------------------------------------------------------------------
def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(path: Path, write: Callable[[str], None]) -> str:
    """`write(tmp)` into a temporary beside `path`, with the usual permissions, fsynced; its name."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise (write_error(e, path) or e) from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        write_point(f"{path.name} written")
    except BaseException as e:
        free = disk_free(path.parent)  # before the temporary goes: a full disk shows here
        if os.path.exists(tmp):
            os.unlink(tmp)
        err = write_error(e, path, free)
        if err is not None:
            raise err from None
        raise
    return tmp


def atomic_write(path: str | Path, write: Callable[[str], None]) -> None:
    """Call `write(tmp_path)` and move the result to `path` in one rename; no half-written file remains."""
    path = Path(path)
    tmp = _write_temp(path, write)
    try:
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise (write_error(e, path) or e) from None
    write_point(f"{path.name} renamed")


def atomic_write_text(path: str | Path, text: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    atomic_write(path, write)


def clean_temps(folder: str | Path) -> list[str]:
    """Remove the temporaries a killed writer left in `folder` (`.NAME.XXXX.tmp`); their names."""
    gone = []
    for p in Path(folder).glob(".*.tmp"):
        if p.is_file():
            p.unlink(missing_ok=True)
            gone.append(p.name)
    return gone


# ---- a set of files that change together --------------------------------------------------------------
def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _matches(path: Path, entry: dict) -> bool:
    try:
        return path.stat().st_size == entry["bytes"] and file_digest(path) == entry["sha256"]
    except FileNotFoundError:
        return False


def _keep_as_prev(path: Path) -> None:
    """Give the current file the second name NAME.prev (a hard link; a copy where links are not possible)."""
    prev = path.with_name(path.name + PREV)
    prev.unlink(missing_ok=True)
    try:
        os.link(path, prev)
    except OSError as e:
        if e.errno in _DISK_FULL:
            raise
        shutil.copy2(path, prev)


def _holds(path: Path, text: str | None) -> bool:
    try:
        return text is not None and path.read_text(encoding="utf-8") == text
    except OSError:
        return False


def write_set(folder: str | Path, writers: dict[str, Callable[[str], None]], manifest: str,
              info: dict[str, Any]) -> dict[str, Any]:
    """Write the files `writers` name (name -> write(tmp_path)) as one unit, then `manifest`: `info` plus each
    file's size and SHA-256. Until the new manifest is in place the previous set stays whole (at its names,
    or as NAME.prev after a crash); on an error the previous set is put back. Returns the manifest."""
    folder = Path(folder)
    recover_set(folder, manifest)
    temps: dict[str, str] = {}
    renamed: list[Path] = []
    text = None
    try:
        for name, write in writers.items():
            temps[name] = _write_temp(folder / name, write)
        files = {name: {"bytes": os.path.getsize(tmp), "sha256": file_digest(tmp)} for name, tmp in temps.items()}
        for name in writers:
            if (folder / name).exists():
                _keep_as_prev(folder / name)
                write_point(f"{name} kept as {name}{PREV}")
        for name, tmp in temps.items():
            os.replace(tmp, folder / name)
            renamed.append(folder / name)
            write_point(f"{name} in place")
        _fsync_dir(folder)
        meta = {**info, "files": files}
        text = json.dumps(meta, indent=2) + "\n"
        atomic_write_text(folder / manifest, text)
        _fsync_dir(folder)
    except BaseException as e:
        free = disk_free(folder)
        for tmp in temps.values():
            if os.path.exists(tmp):
                os.unlink(tmp)
        if not _holds(folder / manifest, text):  # the new set is not complete: put the previous one back
            for path in renamed:
                prev = path.with_name(path.name + PREV)
                if prev.exists():
                    os.replace(prev, path)
                else:  # a file the previous set did not have
                    path.unlink(missing_ok=True)
            for name in writers:
                (folder / (name + PREV)).unlink(missing_ok=True)
        err = write_error(e, folder / manifest, free)
        if err is not None:
            raise err from None
        raise
    for name in writers:  # the new set is complete; a .prev left here is cleaned by the next save or resume
        with contextlib.suppress(OSError):
            (folder / (name + PREV)).unlink(missing_ok=True)
            write_point(f"{name}{PREV} removed")
    return meta


def read_manifest(folder: str | Path, manifest: str) -> dict[str, Any] | None:
    """The manifest of `folder`'s set, or None (a folder written before manifests, or none written yet)."""
    path = Path(folder) / manifest
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or not isinstance(meta.get("files"), dict):
            raise ValueError("no 'files'")
    except PermissionError as e:
        raise LmlabError(f"cannot read {path}: {e.strerror}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise LmlabError(f"{path} is corrupt ({e}); restore it from a copy, or delete it to load the files "
                         "beside it unchecked") from None
    return meta


def resolve_set(folder: str | Path, manifest: str, names: tuple[str, ...]) -> tuple[dict[str, Path], list[str]]:
    """Where each of `names` is in the last complete set: NAME, or NAME.prev after a crash that left a new
    file at NAME before its manifest. Returns the paths and the names that fail the manifest's checksum
    (damaged or replaced since). Without a manifest the files are taken as they are (.prev first: left by a
    crash before the folder's first manifest). Reads only."""
    folder = Path(folder)
    meta = read_manifest(folder, manifest)
    paths, failed = {}, []
    for name in names:
        path, prev = folder / name, folder / (name + PREV)
        entry = (meta or {}).get("files", {}).get(name)
        if meta is None:
            paths[name] = prev if prev.is_file() else path
        elif entry is None:  # not part of the set (e.g. written by other code since)
            paths[name] = path
        else:
            found = [p for p in (path, prev) if _matches(p, entry)]
            paths[name] = found[0] if found else path
            if not found and path.exists():
                failed.append(name)
    return paths, failed


def recover_set(folder: str | Path, manifest: str) -> None:
    """Make the last complete set whole at its own names again after a crash: temporaries removed, NAME.prev
    moved back over NAME where the manifest wants the previous file, stale NAME.prev removed."""
    folder = Path(folder)
    clean_temps(folder)
    prevs = [p for p in folder.glob(f"*{PREV}") if p.is_file()]
    if not prevs:
        return
    names = tuple(p.name[: -len(PREV)] for p in prevs)
    paths, _ = resolve_set(folder, manifest, names)
    for name, path in paths.items():
        if path.name.endswith(PREV):
            os.replace(path, folder / name)
        else:
            (folder / (name + PREV)).unlink(missing_ok=True)
    _fsync_dir(folder)


# ---- a folder of a config and its weights --------------------------------------------------------------
def write_json_and_tensors(path: str | Path, config_name: str, config: dict[str, Any], weights_name: str,
                           tensors: dict[str, torch.Tensor], overwrite: bool = False) -> Path:
    """Write a folder of one JSON config and one safetensors file (an HF model, a peft adapter).

    A new folder appears in one rename; with overwrite=True the two files of an existing folder are
    replaced one rename each, and other files there (e.g. tokenizer.json) are left alone.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise LmlabError(f"{path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise LmlabError(f"{path} is not empty; choose another folder, or replace its files with --overwrite")

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes 0700; the folder gets the usual permissions
        save_file(tensors, str(tmp / weights_name), metadata={"format": "pt"})
        (tmp / config_name).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        for name in (weights_name, config_name):  # safetensors writes 0600
            os.chmod(tmp / name, 0o666 & ~_UMASK)
        if path.is_dir():
            for name in (weights_name, config_name):
                os.replace(tmp / name, path / name)
        else:
            os.replace(tmp, path)
    except OSError as e:
        raise (write_error(e, path, disk_free(path.parent)) or e) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path

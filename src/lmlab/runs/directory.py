"""The run folder: created, reused and replaced without ever losing a run by accident (atomic files,
--overwrite keeps the old run until the new one has a checkpoint, --resume needs a run)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write
from lmlab.io.checkpoint import CONFIG_FILE, MANIFEST, MODEL_FILE, STATE_FILE
from lmlab.io.peft_adapters import RUN_ADAPTER_DIR


def _holds_files(path: Path) -> bool:
    return any(path.iterdir()) if path.is_dir() else path.exists()


def check_writable(path: Path) -> None:
    """Refuse, before any work, a folder (or the nearest existing folder above it) that cannot be written."""
    folder = path if path.is_dir() else next((p for p in path.parents if p.is_dir()), Path("."))
    if not os.access(folder, os.W_OK | os.X_OK):
        why = ("it is on a read-only filesystem" if os.statvfs(folder).f_flag & os.ST_RDONLY
               else "permission denied")
        where = "" if folder == path else f" ({folder} is not writable)"
        raise LmlabError(f"cannot write the run to {path}: {why}{where}; choose another --out")


def check_run_dir(out: str | Path, resume: bool, overwrite: bool) -> bool:
    """Refuse what would lose or misuse a folder; True when an existing run is to be replaced."""
    path = Path(out)
    if resume and overwrite:
        raise LmlabError("--resume and --overwrite contradict each other; pick one")
    if resume:
        if not (path / CONFIG_FILE).is_file():
            raise LmlabError(f"cannot resume: {path} is not an lmlab run directory (no {CONFIG_FILE})")
        check_writable(path)
        return False
    if not _holds_files(path):
        check_writable(path)
        return False
    if not overwrite:
        raise LmlabError(f"{path} already exists and is not empty; continue it with --resume, "
                         "start over with --overwrite, or choose another --out")
    if not (path / CONFIG_FILE).is_file():
        raise LmlabError(f"refusing to --overwrite {path}: it is not an lmlab run directory "
                         f"(no {CONFIG_FILE}); choose another --out")
    check_writable(path.parent if path.parent.exists() else path)
    check_writable(path)
    return True


def prepare_run_dir(out: str | Path, resume: bool, overwrite: bool) -> Path:
    """New run: the folder must not hold a run (unless --overwrite). Resume: it must."""
    path = Path(out)
    if check_run_dir(path, resume, overwrite):
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stamp(path: Path) -> tuple | None:
    """Identity of a file version (atomic writes replace the inode)."""
    if not path.is_file():
        return None
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


@contextlib.contextmanager
def restore_on_failure(out: str | Path, resume: bool, overwrite: bool) -> Iterator[None]:
    """Put --out back as it was if the run fails before it writes a checkpoint.

    A new run that fails in set-up (bad data, bad settings, Ctrl-C) leaves no files behind; with
    --overwrite the old run is only moved aside (to `.NAME.replaced`) until the new run's first
    checkpoint, so a bad start never costs a run. A resumed run gets its config.json back.
    """
    path = Path(out).resolve()
    if os.environ.get("RANK", "0") != "0":  # under torchrun, process 0 owns the folder
        yield
        return
    backup = None
    if check_run_dir(path, resume, overwrite):
        backup = path.with_name(f".{path.name}.replaced")
        shutil.rmtree(backup, ignore_errors=True)  # left by a killed earlier attempt
        path.rename(backup)
    existed = path.exists()
    weights_before = _stamp(path / MODEL_FILE)
    config_before = (path / CONFIG_FILE).read_bytes() if resume else None
    try:
        yield
    except BaseException:
        if _stamp(path / MODEL_FILE) == weights_before:  # no new checkpoint: undo the attempt
            if config_before is not None:
                atomic_write(path / CONFIG_FILE, lambda tmp: Path(tmp).write_bytes(config_before))
            elif not resume:
                shutil.rmtree(path, ignore_errors=True)
                if existed:
                    path.mkdir()
                if backup is not None:
                    backup.rename(path)
        raise
    finally:
        if backup is not None and backup.exists():
            shutil.rmtree(backup, ignore_errors=True)


ADAPTER_DIR = RUN_ADAPTER_DIR  # a LoRA run's adapters in peft's layout
NOT_COPIED = {CONFIG_FILE, MODEL_FILE, STATE_FILE, MANIFEST, ADAPTER_DIR}  # what a derived run (merge, import) writes anew

"""Creating, reusing and replacing run directories without ever losing a run by accident."""

from __future__ import annotations

import shutil
from pathlib import Path

from lmlab.errors import LmlabError
from lmlab.io.checkpoint import CONFIG_FILE


def prepare_run_dir(out: str | Path, resume: bool, overwrite: bool) -> Path:
    """New run: the folder must not hold a run (unless --overwrite). Resume: it must."""
    path = Path(out)
    has_files = path.exists() and any(path.iterdir()) if path.is_dir() else path.exists()
    if resume and overwrite:
        raise LmlabError("--resume and --overwrite contradict each other; pick one")
    if resume:
        if not (path / CONFIG_FILE).is_file():
            raise LmlabError(f"cannot resume: {path} is not an lmlab run directory (no {CONFIG_FILE})")
        return path
    if has_files:
        if not overwrite:
            raise LmlabError(f"{path} already exists and is not empty; continue it with --resume, "
                             "start over with --overwrite, or choose another --out")
        if not (path / CONFIG_FILE).is_file():
            raise LmlabError(f"refusing to --overwrite {path}: it is not an lmlab run directory")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path

"""Atomic writes: one file (temporary file in the same folder, fsync, rename over the target), or a
folder of one JSON config and one safetensors file (a Hugging Face model, a peft adapter)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from lmlab.errors import LmlabError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | Path, write: Callable[[str], None]) -> None:
    """Call `write(tmp_path)` and move the result to `path` in one rename; no half-written file remains."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    atomic_write(path, write)


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
        raise LmlabError(f"{path} is not empty; choose another folder or replace it with --overwrite (overwrite=True)")

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
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path

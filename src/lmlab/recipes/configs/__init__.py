"""Bundled training recipes: JSON files of config keys, usable by name with `--config NAME`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def bundled_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".json"))


def bundled_config(spec: str) -> Path:
    """`spec` as a path, or the bundled recipe of that name when no such file exists."""
    if not Path(spec).exists() and spec in bundled_names():
        return Path(str(resources.files(__name__) / f"{spec}.json"))
    return Path(spec)

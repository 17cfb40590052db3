"""A run directory's checkpoint: `model.safetensors` + `config.json` + `train_state.pt`.

Weights are never pickled: they go to safetensors, with the step in its metadata. The training
state (optimizer, step, RNG and data-order states) is a plain dict of tensors and numbers,
loaded with `weights_only=True`. Every file is written atomically, and both carry a SHA-256 of
their contents, so a damaged file is refused on load instead of silently training or sampling
from garbage (neither format checks its data section itself).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from lmlab.config import load_json
from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write, atomic_write_text

MODEL_FILE, CONFIG_FILE, STATE_FILE = "model.safetensors", "config.json", "train_state.pt"


def unique_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict with each shared (tied) tensor kept once, as safetensors requires."""
    seen: set[int] = set()
    out = {}
    for name, t in model.state_dict().items():
        key = t.untyped_storage().data_ptr() if t.numel() else id(t)
        if key in seen:
            continue
        seen.add(key)
        out[name] = t.detach().contiguous().cpu()
    return out


def save_config(run_dir: Path, config: dict[str, Any]) -> None:
    atomic_write_text(run_dir / CONFIG_FILE, json.dumps(config, indent=2, ensure_ascii=False) + "\n")


def load_config(run_dir: str | Path, required: tuple[str, ...] = ("family", "model")) -> dict[str, Any]:
    """A run's config.json as a dict, refused with a clear message if damaged or lacking `required` keys."""
    path = Path(run_dir) / CONFIG_FILE
    if not Path(run_dir).is_dir():
        raise LmlabError(f"run directory {run_dir} does not exist")
    if not path.is_file():
        raise LmlabError(f"{run_dir} has no {CONFIG_FILE}: is it an lmlab run directory?")
    config = load_json(path, damaged_hint="; config.json is corrupt: restore it or retrain")
    missing = [k for k in required if k not in config]
    if missing:
        raise LmlabError(f"{path} is damaged (no {', '.join(repr(k) for k in missing)}); restore it or retrain")
    return config


def state_digest(obj: Any, h: Any = None) -> str:
    """SHA-256 over a nested state (dicts, lists, tensors, numbers), independent of how it was stored."""
    h = h or hashlib.sha256()
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        for k in sorted(obj, key=repr):
            h.update(repr(k).encode())
            state_digest(obj[k], h)
    elif isinstance(obj, (list, tuple)):
        h.update(b"[")
        for v in obj:
            state_digest(v, h)
        h.update(b"]")
    else:
        h.update(repr(obj).encode())
    return h.hexdigest()


def save_weights(run_dir: Path, model: nn.Module, step: int) -> None:
    tensors = unique_state_dict(model)
    metadata = {"step": str(step), "sha256": state_digest(tensors)}
    atomic_write(run_dir / MODEL_FILE, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def load_weights(run_dir: str | Path, model: nn.Module) -> int:
    """Load weights into `model` (tied tensors restored by the model itself); returns the saved step."""
    path = Path(run_dir) / MODEL_FILE
    if not path.is_file():
        raise LmlabError(f"{run_dir} has no {MODEL_FILE}; the run never reached its first checkpoint")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
        step = int(metadata.get("step", -1))
    except (SafetensorError, OSError, ValueError) as e:
        raise LmlabError(f"{path} is corrupt ({e}); restore it from a copy or retrain") from None
    if "sha256" in metadata and state_digest(tensors) != metadata["sha256"]:
        raise LmlabError(f"{path} is corrupt (its weights fail their checksum); restore it from a copy or retrain")
    own = model.state_dict()
    missing = [k for k in unique_state_dict(model) if k not in tensors]
    unexpected = [k for k in tensors if k not in own]
    wrong = [f"{k} {tuple(tensors[k].shape)} vs {tuple(own[k].shape)}"
             for k in tensors if k in own and tensors[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        detail = "; ".join(filter(None, [
            f"missing {', '.join(missing[:3])}" if missing else "",
            f"unexpected {', '.join(unexpected[:3])}" if unexpected else "",
            f"shape {', '.join(wrong[:3])}" if wrong else ""]))
        raise LmlabError(f"{path} does not match the model in {CONFIG_FILE} ({detail}); the files come from "
                         "different runs: restore the run's own files or retrain")
    model.load_state_dict(tensors, strict=False)
    return step


def save_train_state(run_dir: Path, state: dict[str, Any]) -> None:
    state = {**state, "sha256": state_digest(state)}
    atomic_write(run_dir / STATE_FILE, lambda tmp: torch.save(state, tmp))


def load_train_state(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / STATE_FILE
    if not path.is_file():
        raise LmlabError(f"{run_dir} has no {STATE_FILE}; cannot resume (start over with --overwrite)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several kinds for a damaged pickle/zip
        raise LmlabError(f"{path} is corrupt ({type(e).__name__}); cannot resume (start over with "
                         "--overwrite)") from None
    digest = state.pop("sha256", None) if isinstance(state, dict) else "not a dict"
    if digest is not None and digest != state_digest(state):
        raise LmlabError(f"{path} is corrupt (it fails its checksum); cannot resume (start over with --overwrite)")
    return state

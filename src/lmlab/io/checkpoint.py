"""A run directory's checkpoint: `model.safetensors` + `train_state.pt`, named by `checkpoint.json`.

Weights are never pickled: they go to safetensors, with the step in its metadata. The training
state (optimizer, step, RNG and data-order states) is a plain dict of tensors and numbers,
loaded with `weights_only=True`. Both carry a SHA-256 of their contents, so a damaged file is
refused on load instead of silently training or sampling from garbage (neither format checks its
data section itself). The two are one unit (lmlab.io.atomic.write_set): `checkpoint.json` — the
step, and each file's size and SHA-256 — is written last, the previous pair is kept as `*.prev`
until it is, so a kill or a full disk at any moment leaves a complete checkpoint that loading finds.
Readers keep the public paths; run folders from before checkpoint.json load as they are.
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
from lmlab.io.atomic import atomic_write_text, read_manifest, recover_set, resolve_set, write_set

MODEL_FILE, CONFIG_FILE, STATE_FILE = "model.safetensors", "config.json", "train_state.pt"
MANIFEST = "checkpoint.json"


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


def record_in_config(run_dir: str | Path, key: str, value: Any) -> None:
    """Set one top-level key of a run's config.json (e.g. the kernels it trains with); no file, no change."""
    if (Path(run_dir) / CONFIG_FILE).is_file():
        config = load_config(run_dir, required=())
        if config.get(key) != value:
            save_config(Path(run_dir), {**config, key: value})


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


def saved_step(run_dir: str | Path) -> int | None:
    """The step of the run's last complete checkpoint (checkpoint.json's, or the weights' own in a run from
    before it), None when there is none."""
    meta = read_manifest(run_dir, MANIFEST)
    if meta is not None:
        return int(meta.get("step", -1))
    path = Path(run_dir) / MODEL_FILE
    try:
        with safe_open(str(path), "pt") as f:
            return int((f.metadata() or {}).get("step", -1))
    except (SafetensorError, OSError, ValueError):
        return None


def save_checkpoint(run_dir: str | Path, model: nn.Module, step: int, state: dict[str, Any] | None = None) -> None:
    """Save the weights (and the training `state`, for --resume) as one checkpoint, atomically."""
    run_dir = Path(run_dir)
    tensors = unique_state_dict(model)
    writers = {MODEL_FILE: lambda tmp: save_file(tensors, tmp, metadata={"step": str(step),
                                                                         "sha256": state_digest(tensors)})}
    if state is not None:
        state = {**state, "sha256": state_digest(state)}
        writers[STATE_FILE] = lambda tmp: torch.save(state, tmp)
    before = saved_step(run_dir)
    try:
        write_set(run_dir, writers, MANIFEST, {"step": step})
    except LmlabError as e:
        kept = (f"the step-{before} checkpoint is untouched" if before is not None else
                "no earlier checkpoint exists")
        raise LmlabError(f"cannot save the step-{step} checkpoint: {e}; {kept}") from None


def save_weights(run_dir: Path, model: nn.Module, step: int) -> None:
    """A checkpoint of the weights alone (a derived run: converted, merged, imported)."""
    save_checkpoint(run_dir, model, step)


def recover(run_dir: str | Path) -> None:
    """Before training on: make the last complete checkpoint whole at its own names after a crash."""
    recover_set(run_dir, MANIFEST)


def _locate(run_dir: str | Path, name: str) -> tuple[Path, bool]:
    """The file `name` of the last complete checkpoint (NAME.prev after a crash), and whether it fails
    checkpoint.json's checksum."""
    try:
        paths, failed = resolve_set(run_dir, MANIFEST, (name,))
    except PermissionError as e:
        raise LmlabError(f"cannot read {e.filename}: {e.strerror}; check its permissions") from None
    return paths[name], bool(failed)


def _not_the_saved(path: Path) -> LmlabError:
    return LmlabError(f"{path} is not the file {MANIFEST} names (its size or SHA-256 differ: replaced or damaged "
                      f"since it was saved); restore it from a copy or retrain (or, if you replaced it on purpose, "
                      f"delete {MANIFEST})")


def load_weights(run_dir: str | Path, model: nn.Module) -> int:
    """Load weights into `model` (tied tensors restored by the model itself); returns the saved step."""
    path, unsaved = _locate(run_dir, MODEL_FILE)
    if not path.is_file():
        raise LmlabError(f"{run_dir} has no {MODEL_FILE}; the run never reached its first checkpoint")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
        step = int(metadata.get("step", -1))
    except PermissionError as e:
        raise LmlabError(f"cannot read {path}: {e.strerror}; check its permissions") from None
    except (SafetensorError, OSError, ValueError) as e:
        if "Permission denied" in str(e):
            raise LmlabError(f"cannot read {path}: Permission denied; check its permissions") from None
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
    if unsaved:
        raise _not_the_saved(path)
    model.load_state_dict(tensors, strict=False)
    return step


def load_train_state(run_dir: str | Path) -> dict[str, Any]:
    path, unsaved = _locate(run_dir, STATE_FILE)
    if not path.is_file():
        raise LmlabError(f"{run_dir} has no {STATE_FILE}; cannot resume (start over with --overwrite)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError as e:
        raise LmlabError(f"cannot read {path}: {e.strerror}; check its permissions") from None
    except Exception as e:  # torch raises several kinds for a damaged pickle/zip
        raise LmlabError(f"{path} is corrupt ({type(e).__name__}); cannot resume (start over with "
                         "--overwrite)") from None
    digest = state.pop("sha256", None) if isinstance(state, dict) else "not a dict"
    if digest is not None and digest != state_digest(state):
        raise LmlabError(f"{path} is corrupt (it fails its checksum); cannot resume (start over with --overwrite)")
    if unsaved:
        raise _not_the_saved(path)
    return state

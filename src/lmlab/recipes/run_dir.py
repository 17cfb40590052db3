"""Creating, reusing and replacing run directories without ever losing a run by accident."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from lmlab.config import config_from_dict
from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write
from lmlab.io.checkpoint import CONFIG_FILE, MODEL_FILE, load_config, load_weights


def read_run_configs(run_dir: str | Path, family: str, classes: dict[str, type], sections: tuple[str, ...],
                     also: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """A run's config.json and its `sections` as checked configs (`classes` maps a section to its
    dataclass); a run of another family or a damaged file is named as such."""
    meta = load_config(run_dir, required=("family", *also, *sections))
    if meta["family"] != family:
        raise LmlabError(f"{run_dir} holds a '{meta['family']}' run, not a '{family}' run")
    try:
        return meta, {name: config_from_dict(classes[name], meta[name]) for name in sections}
    except LmlabError as e:
        raise LmlabError(f"{Path(run_dir) / CONFIG_FILE} is damaged ({e}); restore it or retrain") from None


def load_run_weights(run_dir: str | Path, model, meta: dict, plain: bool = True) -> int:
    """Load a run's weights into a freshly built `model` of its shape; returns the saved step. A QLoRA or
    `quantize nf4` run ("quantization" section) gets its NF4 structure and a LoRA run ("lora") its adapters
    first; plain=True then dequantises and merges, so the model is an ordinary float one, as the run computes."""
    from lmlab.nn.nf4_linear import dequantize_model, quantize_model
    from lmlab.peft.lora import inject_lora, merge_lora, run_lora_config
    from lmlab.peft.qlora import run_nf4_config

    lora, nf4 = run_lora_config(meta), run_nf4_config(meta)
    if nf4 is not None:  # the base's linear layers are NF4 codes and scales in the checkpoint
        quantize_model(model, nf4)
    if lora is not None:
        inject_lora(model, lora)
    step = load_weights(run_dir, model)
    if plain and nf4 is not None:
        dequantize_model(model)
    if plain and lora is not None:
        merge_lora(model)
    return step


def _holds_files(path: Path) -> bool:
    return any(path.iterdir()) if path.is_dir() else path.exists()


def check_run_dir(out: str | Path, resume: bool, overwrite: bool) -> bool:
    """Refuse what would lose or misuse a folder; True when an existing run is to be replaced."""
    path = Path(out)
    if resume and overwrite:
        raise LmlabError("--resume and --overwrite contradict each other; pick one")
    if resume:
        if not (path / CONFIG_FILE).is_file():
            raise LmlabError(f"cannot resume: {path} is not an lmlab run directory (no {CONFIG_FILE})")
        return False
    if not _holds_files(path):
        return False
    if not overwrite:
        raise LmlabError(f"{path} already exists and is not empty; continue it with --resume, "
                         "start over with --overwrite, or choose another --out")
    if not (path / CONFIG_FILE).is_file():
        raise LmlabError(f"refusing to --overwrite {path}: it is not an lmlab run directory "
                         f"(no {CONFIG_FILE}); choose another --out")
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

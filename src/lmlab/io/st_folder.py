"""The settings of a sentence-transformers folder (Reimers & Gurevych 2019) that decide its vectors.

`SentenceTransformer.save()` writes the Hugging Face model and tokenizer, and beside them modules.json
(the modules, in order: Transformer, Pooling, optionally Normalize …), the Pooling module's
config.json in its folder (e.g. 1_Pooling/: "pooling_mode": "mean", or the older
"pooling_mode_mean_tokens": true) and sentence_bert_config.json (max_seq_length, do_lower_case).
`read_st_settings` turns them into lmlab embed's defaults; modules lmlab does not compute (a Dense
projection, max pooling …) are refused, naming the file, rather than giving other vectors silently.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from lmlab.config import load_json
from lmlab.errors import LmlabError

MODULES, ST_CONFIG, POOLING_CONFIG = "modules.json", "sentence_bert_config.json", "config.json"
# the Pooling module's mode -> lmlab's pooling; the older format has one boolean flag per mode
POOLING_MODES = {"mean": "mean", "cls": "cls"}
LEGACY_FLAGS = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls",
                "pooling_mode_max_tokens": "max", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
                "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}


def _read_modules(folder: Path) -> list[dict[str, Any]]:
    path = folder / MODULES
    try:
        modules = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise LmlabError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise LmlabError(f"{path} must hold a list of modules ({{\"path\": ..., \"type\": ...}} each)")
    return modules


def _kind(module: dict[str, Any]) -> str:
    return str(module.get("type", "")).rsplit(".", 1)[-1]


def _pooling_mode(path: Path) -> str:
    cfg = load_json(path)
    if "pooling_mode" in cfg:
        modes = [cfg["pooling_mode"]] if isinstance(cfg["pooling_mode"], str) else list(cfg["pooling_mode"])
    else:
        modes = [mode for flag, mode in LEGACY_FLAGS.items() if cfg.get(flag)]
    if len(modes) != 1 or modes[0] not in POOLING_MODES:
        raise LmlabError(f"{path} pools by {' + '.join(map(str, modes)) or 'nothing'}; lmlab embed pools by "
                         f"{' or '.join(POOLING_MODES)} only")
    return POOLING_MODES[modes[0]]


def read_st_settings(folder: str | Path) -> dict[str, Any] | None:
    """{"pooling", "normalize", "max_len", "lowercase"} of a sentence-transformers folder; None if it is not one."""
    folder = Path(folder)
    if not (folder / MODULES).is_file():
        return None
    modules = _read_modules(folder)
    kinds = [_kind(m) for m in modules]
    if not kinds or kinds[0] != "Transformer" or "Pooling" not in kinds:
        raise LmlabError(f"{folder / MODULES} lists {', '.join(kinds) or 'no modules'}; lmlab embed reads a "
                         "Transformer followed by Pooling (and Normalize)")
    extra = [k for k in kinds[1:] if k not in ("Pooling", "Normalize")]
    if extra:
        raise LmlabError(f"{folder / MODULES} has {', '.join(extra)} after the Transformer, which lmlab embed "
                         "does not compute (it computes Pooling and Normalize)")
    pooling_dir = folder / modules[kinds.index("Pooling")].get("path", "")
    st = load_json(folder / ST_CONFIG) if (folder / ST_CONFIG).is_file() else {}
    return {"pooling": _pooling_mode(pooling_dir / POOLING_CONFIG), "normalize": "Normalize" in kinds,
            "max_len": st.get("max_seq_length"), "lowercase": bool(st.get("do_lower_case", False))}


def copy_st_settings(src: str | Path, dst: str | Path, max_len: int | None) -> None:
    """Copy what `read_st_settings` reads from one folder to another (a run imported from it); the
    sequence length sentence-transformers used (`max_len`) is written down in sentence_bert_config.json."""
    src, dst = Path(src), Path(dst)
    modules = _read_modules(src)
    shutil.copyfile(src / MODULES, dst / MODULES)
    for module in modules:
        if _kind(module) == "Pooling":
            (dst / module["path"]).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / module["path"] / POOLING_CONFIG, dst / module["path"] / POOLING_CONFIG)
    st = load_json(src / ST_CONFIG) if (src / ST_CONFIG).is_file() else {}
    if max_len is not None:
        st["max_seq_length"] = max_len
    (dst / ST_CONFIG).write_text(json.dumps(st, indent=2) + "\n", encoding="utf-8")

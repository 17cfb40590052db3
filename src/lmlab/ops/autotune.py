"""Kernels chosen by measurement, once per machine: time a few small candidates, keep the fastest, cache it.

A "choice" (e.g. the fp32 linear kernel: MKL through F.linear or oneDNN) is decided by timing each
candidate on a small representative workload, interleaved (so a busy machine slows them alike), the
fastest of a few repetitions (other work on the machine only ever adds time, so the minimum is the
least disturbed figure; a median of 3 still flipped choices at a load of 5 on 2 cores). The fastest wins, unless the default (what the CPU's features predict) is within
MARGIN of it; the result and its timings are kept in a JSON file under the
user's cache directory (`$LMLAB_CACHE_DIR`, else `$XDG_CACHE_HOME/lmlab`, else `~/.cache/lmlab`),
keyed by CPU model, torch version and thread count, since any of them can change the winner.

`LMLAB_AUTOTUNE=0` turns timing off: each choice then takes its capability-based default (what the
CPU's features predict) and nothing is written. `clear_cache()` (and `lmlab info --system
--clear-cache`) forgets every measurement. A process decides each choice once and remembers it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from lmlab.ops.cpu import cpu_info, median_time

CACHE_FILE = "kernels.json"
MARGIN = 0.05   # another candidate must beat the default by more than 5 %: a busy machine's noise is no reason to switch
_decided: dict[str, str] = {}       # this process's decisions, by choice name


def cache_dir() -> Path:
    if os.environ.get("LMLAB_CACHE_DIR"):
        return Path(os.environ["LMLAB_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lmlab"


def cache_path() -> Path:
    return cache_dir() / CACHE_FILE


def cache_key() -> str:
    """What a measurement depends on: CPU model, torch version, thread count."""
    return f"{cpu_info().model} | torch {torch.__version__} | {torch.get_num_threads()} threads"


def enabled() -> bool:
    """False when LMLAB_AUTOTUNE is 0/off/false: capability defaults, no timing, no cache writes."""
    return os.environ.get("LMLAB_AUTOTUNE", "1").strip().lower() not in ("0", "off", "false", "no")


def _load() -> dict:
    try:
        data = json.loads(cache_path().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):   # none yet, or unreadable: measure again (a cache is never authoritative)
        return {}


def _save(data: dict) -> None:
    """Atomically (temp file + rename); a read-only cache directory only costs re-measuring next time."""
    try:
        path = cache_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kernels-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass


def cached() -> dict[str, dict]:
    """This machine's (key's) cached choices: name -> {"choice": …, "ms": {candidate: ms}}."""
    entry = _load().get(cache_key(), {})
    return entry if isinstance(entry, dict) else {}


def clear_cache() -> Path | None:
    """Forget every cached measurement (all keys) and this process's decisions; the removed file or None."""
    _decided.clear()
    path = cache_path()
    if path.exists():
        path.unlink()
        return path
    return None


def measure(candidates: dict[str, Callable[[], object]], reps: int = 5) -> dict[str, float]:
    """Milliseconds per call of each candidate, interleaved one call at a time, the fastest of `reps` rounds."""
    for fn in candidates.values():   # warm up every candidate first (allocations, oneDNN's primitive cache)
        fn()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(reps):
        for name, fn in candidates.items():
            times[name].append(median_time(fn, 1) * 1e3)
    return {name: min(t) for name, t in times.items()}


def choose(name: str, candidates: Callable[[], dict[str, Callable[[], object]]], default: str,
           reps: int = 5) -> str:
    """The fastest candidate for choice `name`: this process's earlier decision, else the cache's, else
    measured now and cached. `candidates()` builds the timed callables (only called when measuring);
    `default` is taken when autotuning is off."""
    if name in _decided:
        return _decided[name]
    if not enabled():
        _decided[name] = default
        return default
    entry = cached().get(name)
    if not (isinstance(entry, dict) and isinstance(entry.get("choice"), str)):
        ms = measure(candidates(), reps)
        entry = {"choice": pick(ms, default), "ms": {k: round(v, 4) for k, v in ms.items()}}
        data = _load()
        data.setdefault(cache_key(), {})[name] = entry
        _save(data)
    _decided[name] = entry["choice"]
    return entry["choice"]


def pick(ms: dict[str, float], default: str) -> str:
    """The fastest candidate, unless the default is within MARGIN of it (then the default: a tie is no reason
    to leave the path the CPU's features predict, and 3 repetitions on a busy machine differ by a few %)."""
    best = min(ms, key=ms.get)
    return default if default in ms and ms[default] <= ms[best] * (1 + MARGIN) else best


def known(name: str) -> str | None:
    """This process's decision for `name`, if it made one (no cache read, no timing)."""
    return _decided.get(name)


def decided(prefix: str) -> dict[str, str]:
    """This process's decisions whose names start with `prefix` (what a run records)."""
    return {k: v for k, v in _decided.items() if k.startswith(prefix)}


@contextlib.contextmanager
def replaying(decisions: dict[str, str]) -> Iterator[None]:
    """Inside the block these decisions stand, whatever the cache says (a resumed run's own kernels)."""
    previous = {k: _decided.get(k) for k in decisions}
    _decided.update(decisions)
    try:
        yield
    finally:
        for k, v in previous.items():
            if v is None:
                _decided.pop(k, None)
            else:
                _decided[k] = v


def decision(name: str) -> dict | None:
    """The cached measurement behind a choice ({"choice", "ms"}), if any."""
    entry = cached().get(name)
    return entry if isinstance(entry, dict) else None


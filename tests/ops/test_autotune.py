"""ops.autotune: the fastest candidate is chosen and cached per CPU model, torch version and thread count;
the cache is read back, cleared, ignored when damaged, and left alone when autotuning is off.
(No timing is asserted: only that the choice is the candidate the recorded timings call fastest.)"""

import json

import torch

from lmlab.ops import autotune


def work(n):
    a = torch.randn(n, n)
    return lambda: a @ a


def candidates():
    return {"small": work(8), "big": work(256)}


def never():
    raise AssertionError("measured although the answer was known")


def test_measures_chooses_the_fastest_and_caches_it(autotune_cache):
    choice = autotune.choose("demo", candidates, default="big", reps=3)
    data = json.loads(autotune_cache.read_text())
    key = autotune.cache_key()
    assert torch.__version__ in key and f"{torch.get_num_threads()} threads" in key
    entry = data[key]["demo"]
    assert entry["choice"] == choice == min(entry["ms"], key=entry["ms"].get)
    assert set(entry["ms"]) == {"small", "big"}
    assert autotune.choose("demo", never, default="big") == choice          # this process remembers
    autotune._decided.clear()
    assert autotune.choose("demo", never, default="big") == choice          # the cache answers a new process


def test_another_thread_count_is_another_key(autotune_cache):
    autotune.choose("demo", candidates, default="big", reps=1)
    threads = torch.get_num_threads()
    autotune._decided.clear()
    try:
        torch.set_num_threads(threads + 1)
        measured = []
        autotune.choose("demo", lambda: measured.append(1) or candidates(), default="big", reps=1)
        assert measured and len(json.loads(autotune_cache.read_text())) == 2
    finally:
        torch.set_num_threads(threads)


def test_clear_and_damaged_cache(autotune_cache):
    assert autotune.clear_cache() is None
    autotune.choose("demo", candidates, default="big", reps=1)
    assert autotune.clear_cache() == autotune_cache and not autotune_cache.exists()
    autotune_cache.parent.mkdir(parents=True, exist_ok=True)
    autotune_cache.write_text("{not json")
    assert autotune.choose("demo", candidates, default="big", reps=1) in ("small", "big")
    assert "demo" in autotune.cached()


def test_off_takes_the_default_and_writes_nothing(autotune_cache, monkeypatch):
    monkeypatch.setenv("LMLAB_AUTOTUNE", "0")
    assert autotune.choose("demo", never, default="big") == "big"
    assert not autotune_cache.exists()


def test_default_cache_folder_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("LMLAB_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert autotune.cache_path() == tmp_path / "lmlab" / "kernels.json"


def test_the_default_wins_a_near_tie():
    """Within MARGIN the default stays (noise on a busy machine is no reason to switch); beyond it, the fastest."""
    assert autotune.pick({"onednn": 2.60, "torch": 2.65}, default="torch") == "torch"
    assert autotune.pick({"onednn": 2.00, "torch": 2.65}, default="torch") == "onednn"
    assert autotune.pick({"sdpa": 1.0, "flash": 3.0}, default="flash") == "sdpa"
    assert autotune.pick({"a": 1.0, "b": 1.01}, default="c") == "a"             # no default among them

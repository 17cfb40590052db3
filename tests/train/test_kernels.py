"""train.kernels: what a run trains with is resolved (explicit > the run's record > the cache), recorded in
config.json and train_state.pt, and replayed by --resume even after the cache changed; the bf16 warning."""

import json
from pathlib import Path

import pytest
import torch

from lmlab.data.lm_config import LMDataConfig
from lmlab.errors import LmlabError
from lmlab.io.checkpoint import load_train_state
from lmlab.models.gpt import GPT, preset
from lmlab.ops import autotune
from lmlab.ops.cpu import cpu_info
from lmlab.ops.linear import set_linear_kernel
from lmlab.recipes.pretrain_gpt import pretrain_gpt
from lmlab.train import kernels as K
from lmlab.train.config import TrainConfig
from lmlab.train.metrics import read_metrics

CPU = torch.device("cpu")
MILAN = (Path(__file__).parents[1] / "data" / "cpuinfo" / "epyc_milan.txt").read_text(encoding="utf-8")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Set this machine's cached choices: cache({"linear_fp32": "torch", …}) (timings optional)."""
    monkeypatch.setenv("LMLAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LMLAB_AUTOTUNE", "1")

    def put(choices: dict, ms: dict | None = None):
        autotune._decided.clear()
        autotune.cache_path().parent.mkdir(parents=True, exist_ok=True)
        entries = {k: {"choice": v, "ms": (ms or {}).get(k, {})} for k, v in choices.items()}
        autotune.cache_path().write_text(json.dumps({autotune.cache_key(): entries}))
    yield put
    autotune._decided.clear()


def test_explicit_beats_record_beats_cache(cache):
    cache({"train_dtype": "bf16"})
    shapes = {"linear_fp32/8x3@64": "torch"}
    assert K.resolve("auto", CPU) == {"linear_fp32": "auto", "linear_fp32_shapes": {}, "attention": {}, "dtype": "bf16"}
    assert K.resolve("fp32", CPU)["dtype"] == "fp32"
    recorded = {"linear_fp32": "auto", "linear_fp32_shapes": shapes, "attention": {}, "dtype": "fp32"}
    assert K.resolve("auto", CPU, recorded) == recorded
    assert K.resolve("auto", CPU, K.LEGACY)["linear_fp32"] == K.LEGACY["linear_fp32"]   # a run from before records
    previous = set_linear_kernel("torch")
    try:
        assert K.resolve("auto", CPU, recorded)["linear_fp32"] == "torch"
        assert K.resolve("auto", CPU, recorded)["linear_fp32_shapes"] == {}
    finally:
        set_linear_kernel(previous)


def test_bf16_warning_names_the_cpu_and_the_measured_cost(cache):
    cache({"train_dtype": "fp32"}, ms={"train_dtype": {"fp32": 10.0, "bf16": 25.0}})
    milan = cpu_info(MILAN, capability="AVX2")
    warning = K.bf16_warning("bf16", CPU, milan)
    assert "AMD EPYC-Milan Processor" in warning and "2.50× the time of fp32" in warning and "--dtype auto" in warning
    assert K.bf16_warning("fp32", CPU, milan) is None
    assert K.bf16_warning("bf16", CPU, cpu_info(MILAN.replace("avx2", "avx2 avx512_bf16"))) is None


DECODE = {"decode_weights_fp32": "plain", "decode_weights_bf16": "plain"}  # samples.txt's decoding: not timed


def _cfg(**kw):
    return TrainConfig(**{**dict(max_steps=4, batch_size=2, eval_every=2, eval_batches=1, log_every=1,
                                 warmup_steps=2, dtype="auto"), **kw})


def test_resume_replays_the_recorded_kernels_after_the_cache_changed(shakespeare_small, tmp_path, cache):
    model, data = preset("tiny", max_seq_len=16), str(shakespeare_small)
    dtype_at = f"train_dtype/d{model.d_model}f{model.ff_dim}"  # --dtype auto's choice at the model's width
    cache({dtype_at: "fp32", **DECODE})                 # each linear shape measured as it is met (tiny: fast)
    pretrain_gpt(data, model, _cfg(), LMDataConfig(), tmp_path / "straight", quiet=True)
    recorded = json.loads((tmp_path / "straight" / "config.json").read_text())["kernels"]
    assert recorded["linear_fp32"] == "auto" and recorded["dtype"] == "fp32" and recorded["linear_fp32_shapes"]
    assert "attention/float32/train/causal/D16/q16k16" in recorded["attention"]   # attn_backend auto, measured

    def interrupt(step):
        if step == 2:
            raise KeyboardInterrupt
    with pytest.raises(LmlabError, match="interrupted at step 2"):
        pretrain_gpt(data, model, _cfg(), LMDataConfig(), tmp_path / "split", quiet=True, on_step_end=interrupt)
    assert load_train_state(tmp_path / "split")["kernels"] == recorded
    flipped = {k: "torch" if v == "onednn" else "onednn" for k, v in recorded["linear_fp32_shapes"].items()}
    other = {"sdpa": "flash", "flash": "sdpa", "naive": "sdpa", "bmm": "sdpa"}
    flipped.update({k: v if "dropout" in k else other[v] for k, v in recorded["attention"].items()})
    cache({dtype_at: "bf16", **DECODE, **flipped})      # a new cache: every choice the other way
    pretrain_gpt(data, model, _cfg(), LMDataConfig(), tmp_path / "split", resume=True, quiet=True)
    assert json.loads((tmp_path / "split" / "config.json").read_text())["kernels"] == recorded

    def losses(run):
        return [(r["step"], r["loss"]) for r in read_metrics(tmp_path / run / "metrics.jsonl") if "loss" in r]
    assert losses("split") == losses("straight")                          # bit for bit


def test_dtype_auto_is_measured_at_the_models_width(cache):
    """--dtype auto times a feed-forward pair of the model's own (d_model, d_ff), once per width, and caches it."""
    cache({"train_dtype": "bf16"})
    assert K.model_width(GPT(preset("tiny"))) == (preset("tiny").d_model, preset("tiny").ff_dim)
    assert K.model_width(torch.nn.Linear(2, 2)) is None
    assert K.resolve("auto", CPU)["dtype"] == "bf16"                            # GPT-2's width: the cached choice
    chosen = K.resolve("auto", CPU, width=(16, 64))["dtype"]
    entry = autotune.decision("train_dtype/d16f64")
    assert entry["choice"] == chosen and set(entry["ms"]) == {"fp32", "bf16"}

"""generate.precision: `--dtype auto` for decoding is the faster of fp32 and bf16 as measured on the model
itself (cached per model shape), the hardware's default with LMLAB_AUTOTUNE=0; the bf16 warning on a CPU
without native bf16 names the measured cost. (No timing is asserted: only that the choice is the one the
recorded timings call faster.)"""

import json
from pathlib import Path

import pytest
import torch

from lmlab.generate.precision import bf16_warning, choice_name, decode_dtype, default_dtype
from lmlab.models.gpt import GPT, preset
from lmlab.ops import autotune
from lmlab.ops.cpu import cpu_info

MILAN = (Path(__file__).parents[1] / "data" / "cpuinfo" / "epyc_milan.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(preset("tiny", max_seq_len=32)).eval()


def test_without_autotuning_auto_is_the_hardware_default(model):
    autotune._decided.clear()
    assert decode_dtype(model, "auto") == default_dtype(torch.device("cpu")) == ("bf16" if cpu_info().bf16 else "fp32")
    assert decode_dtype(model, "fp32") == "fp32" and decode_dtype(model, "bf16") == "bf16"
    assert default_dtype(torch.device("cpu"), cpu_info(MILAN)) == "fp32"
    with pytest.raises(ValueError, match="fp32, bf16 or auto"):
        decode_dtype(model, "fp16")
    autotune._decided.clear()


def test_measured_choice_is_the_faster_and_is_cached_per_model_shape(model, autotune_cache):
    name = choice_name(model)
    assert name == f"decode_dtype/{sum(p.numel() for p in model.parameters())}p{len(list(model.parameters()))}t"
    chosen = decode_dtype(model, "auto")
    entry = json.loads(autotune_cache.read_text())[autotune.cache_key()][name]
    assert set(entry["ms"]) == {"fp32", "bf16"} and chosen == entry["choice"] == min(entry["ms"], key=entry["ms"].get)
    assert next(model.parameters()).dtype == torch.float32        # the measurement decoded a bf16 copy
    autotune._decided.clear()
    assert decode_dtype(model, "auto") == chosen                  # read back, not measured again
    other = GPT(preset("tiny", max_seq_len=32, n_layers=1))
    assert choice_name(other) != name


def test_bf16_warning_names_the_cpu_and_the_measured_cost(model, autotune_cache):
    autotune_cache.parent.mkdir(parents=True)
    autotune_cache.write_text(json.dumps({autotune.cache_key(): {choice_name(model): {
        "choice": "fp32", "ms": {"fp32": 16.0, "bf16": 40.0}}}}))
    milan = cpu_info(MILAN, capability="AVX2")
    warning = bf16_warning(model, "bf16", milan)
    assert "AMD EPYC-Milan Processor" in warning and "no native bf16" in warning
    assert "5.0 ms a token against 2.0 in fp32" in warning and "2.50× the time" in warning and "--dtype auto" in warning
    assert bf16_warning(model, "fp32", milan) is None
    assert bf16_warning(model, "bf16", cpu_info(MILAN.replace("avx2", "avx2 avx512_bf16"))) is None


def test_bf16_warning_without_autotuning_says_it_was_not_measured(model, monkeypatch):
    monkeypatch.setenv("LMLAB_AUTOTUNE", "0")
    autotune._decided.clear()
    warning = bf16_warning(model, "bf16", cpu_info(MILAN, capability="AVX2"))
    assert "emulated through fp32" in warning and "not measured" in warning
    autotune._decided.clear()

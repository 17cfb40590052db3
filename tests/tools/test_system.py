"""tools.system: the `info --system` report names the CPU, its features, the torch build and every kernel choice."""

import json

import torch

from lmlab.ops.cpu import cpu_info
from lmlab.tools.system import ATTN_DECODE, ATTN_TRAIN, KERNEL_NAMES, choose_all, report


def test_report_without_measuring_names_everything():
    lines = report(measure=False)                    # LMLAB_AUTOTUNE=0 in the tests: choices from the CPU
    text = "\n".join(lines)
    assert lines[0] == f"CPU             {cpu_info().model}"
    assert torch.__version__ in text and "not measured" in text
    chosen = choose_all()
    assert set(chosen) <= set(KERNEL_NAMES) and {"train_dtype", ATTN_TRAIN, ATTN_DECODE} < set(chosen)
    assert chosen[ATTN_TRAIN] == chosen[ATTN_DECODE] == "sdpa"   # attn_backend auto's capability default
    for name, kernel in chosen.items():
        assert f"{KERNEL_NAMES[name]:<24}{kernel}" in text


def test_report_summarises_the_cached_attention_and_decode_dtype_choices(tmp_path, monkeypatch):
    from lmlab.ops import autotune
    from lmlab.tools.system import LINEAR
    monkeypatch.setenv("LMLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LMLAB_AUTOTUNE", "1")
    choices = {LINEAR: "torch", "train_dtype": "fp32", ATTN_TRAIN: "flash", ATTN_DECODE: "naive",
               "decode_weights_fp32": "plain", "decode_weights_bf16": "packed",
               "attention/float32/infer/none/D16/q64k64": "sdpa", "attention/bfloat16/train/causal/D16/q16k16": "flash",
               "attention/float32/train/causal/D32/q16k16": "flash", "decode_dtype/1000p10t": "bf16"}
    autotune.cache_path().write_text(json.dumps({autotune.cache_key(): {
        k: {"choice": v, "ms": {v: 1.0}} for k, v in choices.items()}}))
    autotune._decided.clear()
    try:
        text = "\n".join(report(measure=False))
    finally:
        autotune._decided.clear()
    assert f"{KERNEL_NAMES[ATTN_TRAIN]:<24}flash (measured: flash 1.0 ms)" in text
    assert f"{KERNEL_NAMES[ATTN_DECODE]:<24}naive" in text
    assert "attention, others       flash for 2, sdpa for 1 (each kind of call" in text
    assert "generate --dtype auto   bf16 for 1 (each model shape" in text

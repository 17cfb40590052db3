"""lmlab.tools.preflight: a training step's memory and time, estimated before anything is built."""

from __future__ import annotations

import pytest
import torch

from lmlab.errors import LmlabError
from lmlab.models.gpt import preset
from lmlab.runs import families
from lmlab.tools.memory import training_bill
from lmlab.tools.preflight import available_memory, estimate, matmul_flops, preflight
from lmlab.train.config import TrainConfig

CPU = torch.device("cpu")


def test_a_gpt_step_is_the_bill_of_lmlab_memory():
    cfg, train = preset("gpt2-small"), TrainConfig(batch_size=8, dtype="bf16")
    est = estimate(families.get("gpt"), cfg, train)
    bill = training_bill(cfg, batch=8, seq_len=cfg.max_seq_len, dtype="bf16", mixed=True, optimizer="adamw")
    assert est.peak_bytes == bill.peak.bytes and est.params == 124_439_808
    assert est.flops == (6 * est.params + 12 * 12 * 768 * 1024) * 8 * 1024   # PaLM's 6N + 12·L·C·T a token


def test_lora_and_qlora_are_billed_as_such():
    cfg, train, gpt = preset("llama2-7b"), TrainConfig(batch_size=1, dtype="bf16"), families.get("gpt")
    full, lora, qlora = (estimate(gpt, cfg, train, **kw).peak_bytes for kw in
                         ({}, {"lora_rank": 8}, {"lora_rank": 8, "qlora": True}))
    assert full > 3 * lora and lora - qlora > 9e9   # 7B weights in 16 bits -> 4.5 bits: 13.5 GB -> 3.9 GB


def test_a_family_without_a_bill_is_estimated_from_its_shapes():
    bert = families.get("bert")
    small, big = (estimate(bert, bert.preset("bert-base"), TrainConfig(batch_size=b)) for b in (8, 16))
    assert small.params > 100e6
    assert 16 * small.params < small.peak_bytes < big.peak_bytes


def test_the_machine_is_measured():
    have, source = available_memory(CPU)
    assert have > 2**20 and source
    assert matmul_flops(CPU, n=256, repeats=1) > 1e7


def test_what_fits_passes_quietly_and_what_cannot_is_refused():
    gpt = families.get("gpt")
    assert preflight(gpt, preset("tiny"), TrainConfig(batch_size=2), CPU) is None
    with pytest.raises(LmlabError, match=r"needs about .* PiB .* is available"):
        preflight(gpt, preset("tiny", d_model=10_000_000), TrainConfig(), CPU)


def test_a_family_it_cannot_estimate_passes_unchecked():
    import dataclasses

    from lmlab.runs.families import Family

    @dataclasses.dataclass(frozen=True)
    class ImageConfig:   # no d_model / max_seq_len / vocab_size
        channels: int = 3
    family = Family(name="images", summary="", configs={}, model="", count="builtins:len")
    assert preflight(family, ImageConfig(), TrainConfig(), CPU) is None

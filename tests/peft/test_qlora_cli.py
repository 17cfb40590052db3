"""QLoRA from the command line: `--lora SPEC --nf4` on `lmlab train gpt|bert` and `lmlab finetune classify`.

A QLoRA run keeps its base in NF4 in the checkpoint (codes and scales, no float copy), records the
quantisation in config.json, resumes step for step, samples in NF4 (`generate`), loads as a plain
model elsewhere (the base dequantised, the adapters merged), merges with `lmlab lora merge`; and the
NF4 buffers never move while the adapters train."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lmlab.cli import main
from lmlab.data.lm_config import LMDataConfig
from lmlab.errors import LmlabError
from lmlab.models.gpt import preset as gpt_preset
from lmlab.nn.nf4_linear import NF4Config, NF4Linear, nf4_layers, quantize_model
from lmlab.peft.lora import LoRAConfig, LoRALinear, lora_layers
from lmlab.recipes.pretrain_gpt import pretrain_gpt
from lmlab.runs.run import Run
from lmlab.train.config import TrainConfig
from lmlab.train.metrics import read_metrics

DATA = Path(__file__).parents[1] / "data" / "fortunes_3topics.jsonl"
NF4_KEYS = ("weight_packed", "weight_absmax", "weight_absmax_scale", "weight_absmax_offset")


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(max_steps=8, batch_size=4, eval_every=8, eval_batches=1, log_every=1,
                                 warmup_steps=2, lr=3e-3, min_lr=3e-4, device="cpu"), **kw})


QUICK = ["--max_steps", "8", "--batch_size", "4", "--eval_every", "4", "--eval_batches", "1", "--log_every", "1",
         "--warmup_steps", "2", "--lr", "3e-3", "--min_lr", "3e-4", "--device", "cpu", "--quiet"]


pytestmark = pytest.mark.usefixtures("short_samples")


@pytest.fixture(scope="module")
def gpt_base(tmp_path_factory, shakespeare_small) -> Path:
    out = tmp_path_factory.mktemp("gpt") / "base"
    pretrain_gpt(str(shakespeare_small), gpt_preset("tiny", max_seq_len=32), cfg(max_steps=4), LMDataConfig(), out,
                 quiet=True)
    return out



def losses(run: Path) -> list:
    return [(r["step"], r["loss"]) for r in read_metrics(run / "metrics.jsonl") if "loss" in r]


def test_qlora_gpt_run_trains_resumes_samples_and_merges(gpt_base, shakespeare_small, tmp_path, capsys):
    run = tmp_path / "qlora"
    spec = ["--lora", "r=4,alpha=8,targets=qkvo", "--nf4"]
    assert main(["train", "gpt", "--data", str(shakespeare_small), "--init", str(gpt_base), *spec, *QUICK[:-1],
                 "--out", str(run)]) == 0
    assert "QLoRA r=4" in capsys.readouterr().out  # what trains, and the base's NF4 layers
    meta = json.loads((run / "config.json").read_text())
    assert meta["quantization"]["qlora"] and meta["quantization"]["blocksize"] == 64 and meta["lora"]["r"] == 4

    # the checkpoint: NF4 codes and scales, adapters, no float copy of a quantised weight
    saved = load_file(str(run / "model.safetensors"))
    assert "blocks.0.attn.q_proj.base.weight_packed" in saved and "blocks.0.ff.up.weight_packed" in saved
    assert not any(k.endswith(("proj.base.weight", "ff.up.weight", "ff.down.weight")) for k in saved)
    assert saved["blocks.0.attn.q_proj.base.weight_packed"].dtype == torch.uint8
    # the NF4 buffers are those of the pretrained base, quantised: training never moved them
    base = Run.open(gpt_base).model()
    quantize_model(base, NF4Config())
    for name, layer in nf4_layers(base).items():
        key = f"{name}.base" if name.split(".")[-1].endswith("proj") else name
        for b in NF4_KEYS:
            assert torch.equal(saved[f"{key}.{b}"], getattr(layer, b)), (key, b)
    assert any(saved[k].abs().max() > 0 for k in saved if k.endswith("lora_B"))   # the adapters did train
    assert all(torch.isfinite(torch.tensor(loss)) for _, loss in losses(run))

    # resume = uninterrupted, step for step (NF4 rebuilt from the checkpoint, adapters and optimizer restored)
    def interrupt(step):
        if step == 3:
            raise KeyboardInterrupt
    lora, split = LoRAConfig(r=4, alpha=8, targets=("qkvo",)), tmp_path / "split"
    train = cfg(eval_every=4)
    with pytest.raises(LmlabError, match="interrupted at step 3"):
        pretrain_gpt(str(shakespeare_small), None, train, LMDataConfig(), split, quiet=True, init=gpt_base,
                     lora=lora, nf4=NF4Config(), on_step_end=interrupt)
    assert main(["train", "gpt", "--out", str(split), "--resume", "--quiet"]) == 0
    assert losses(split) == losses(run)

    # generate samples in NF4 with the adapters beside it; elsewhere the run loads as a plain merged GPT
    q_model = Run.open(run).model(plain=False)
    assert isinstance(q_model.blocks[0].attn.q_proj, LoRALinear) and isinstance(q_model.blocks[0].ff.up, NF4Linear)
    plain = Run.open(run).model()
    assert not lora_layers(plain) and not nf4_layers(plain)
    ids = torch.randint(0, plain.cfg.vocab_size, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(plain.eval()(ids), q_model.eval()(ids), atol=1e-4, rtol=0)
    assert main(["generate", str(run), "--prompt", "ROMEO:", "--max-new-tokens", "5", "--temperature", "0"]) == 0
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    assert "QLoRA" in capsys.readouterr().out
    assert main(["lora", "merge", str(run), "--out", str(tmp_path / "merged")]) == 0
    merged_meta = json.loads((tmp_path / "merged" / "config.json").read_text())
    assert "quantization" not in merged_meta and merged_meta["merged_quantization"]["qlora"]
    merged = Run.open(tmp_path / "merged").model()
    with torch.no_grad():
        torch.testing.assert_close(merged.eval()(ids), q_model(ids), atol=1e-4, rtol=0)


def test_qlora_bert_pretraining_and_finetuning(bert_run, tmp_path, capsys):
    # train bert --init RUN --lora --nf4 (adapters on the init's weights), then the run serves as an encoder
    # (dequantised, merged) for embed and finetune
    corpus = bert_run.parent / "corpus.txt"
    qbert = tmp_path / "qbert"
    assert main(["train", "bert", "--init", str(bert_run), "--data", str(corpus), "--max_len", "32",
                 "--sentence_task", "none", "--lora", "r=4,targets=all-linear", "--nf4", *QUICK, "--out", str(qbert)]) == 0
    assert json.loads((qbert / "config.json").read_text())["quantization"]["qlora"]
    assert not lora_layers(Run.open(qbert).model()) and not nf4_layers(Run.open(qbert).model())
    assert main(["embed", str(qbert), "a fortune", "another one"]) == 0
    capsys.readouterr()

    out = tmp_path / "cls"
    assert main(["finetune", "classify", "--model", str(qbert), "--data", str(DATA), "--max-len", "32",
                 "--max_steps", "6", "--eval_every", "3", "--batch_size", "16", "--lr", "3e-3", "--device", "cpu",
                 "--lora", "r=4,alpha=8,targets=qkv", "--nf4", "--quiet", "--out", str(out)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    meta = json.loads((out / "config.json").read_text())
    assert meta["quantization"]["qlora"] and meta["lora"]["modules_to_save"] == ["classifier"]
    saved = load_file(str(out / "model.safetensors"))
    assert "bert.blocks.0.attn.q_proj.base.weight_packed" in saved and "bert.pooler.dense.weight_packed" in saved
    assert saved["classifier.weight"].dtype == torch.float32                     # the new head stays in full
    assert json.loads((out / "results.json").read_text())["nf4"] is True
    assert main(["lora", "merge", str(out)]) == 0


def test_nf4_mistakes(cli_fails, gpt_base, bert_run, shakespeare_small, tmp_path):
    cli_fails(["train", "gpt", "--data", str(shakespeare_small), "--nf4", "--out", str(tmp_path / "a")],
              "--nf4", "needs --lora", "lmlab quantize nf4")
    cli_fails(["train", "bert", "--data", str(shakespeare_small), "--nf4", "--out", str(tmp_path / "b")],
              "needs --lora")
    cli_fails(["train", "bert", "--data", str(shakespeare_small), "--lora", "r=4", "--nf4", "--out",
               str(tmp_path / "b")], "without --init that base is random")
    cli_fails(["finetune", "classify", "--model", str(bert_run), "--data", str(DATA), "--nf4",
               "--out", str(tmp_path / "c")], "needs --lora")
    cli_fails(["train", "gpt", "--out", str(gpt_base), "--resume", "--nf4"], "keeps its --nf4")
    cli_fails(["finetune", "classify", "--model", str(bert_run), "--data", str(DATA), "--lora", "r=4", "--nf4",
               "--freeze-layers", "1", "--out", str(tmp_path / "d")], "do not mix")
    assert not any((tmp_path / d).exists() for d in "abcd")

"""LoRA in run directories: `--lora` on `lmlab train gpt` (with --init and --resume) and `lmlab finetune
classify`, the peft adapter folder in the run, `lmlab lora merge`, and the CLI's errors for bad specs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lmlab.cli import main
from lmlab.config import config_from_dict
from lmlab.data.lm_config import LMDataConfig
from lmlab.errors import LmlabError
from lmlab.io.checkpoint import load_weights
from lmlab.models.bert import BertConfig
from lmlab.models.bert.model import BertForSequenceClassification, BertModel
from lmlab.models.gpt import preset as gpt_preset
from lmlab.peft import LoRAConfig, inject_lora
from lmlab.recipes.pretrain_gpt import pretrain_gpt
from lmlab.runs.run import Run
from lmlab.train.config import TrainConfig
from lmlab.train.metrics import read_metrics

DATA = Path(__file__).parents[1] / "data" / "fortunes_3topics.jsonl"


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(max_steps=12, batch_size=4, eval_every=12, eval_batches=1, log_every=1,
                                 warmup_steps=2, lr=3e-3, min_lr=3e-4, device="cpu"), **kw})


pytestmark = pytest.mark.usefixtures("short_samples")


@pytest.fixture(scope="module")
def gpt_base(tmp_path_factory, shakespeare_small) -> Path:
    """A tiny GPT trained for a few steps: the pretrained base for --init."""
    out = tmp_path_factory.mktemp("gpt") / "base"
    pretrain_gpt(str(shakespeare_small), gpt_preset("tiny", max_seq_len=32, dropout=0.1), cfg(max_steps=6),
                 LMDataConfig(), out, quiet=True)
    return out


def losses(run: Path) -> list:
    return [(r["step"], r["loss"]) for r in read_metrics(run / "metrics.jsonl") if "loss" in r]


def test_lora_on_a_pretrained_gpt_resumes_exactly(gpt_base, shakespeare_small, tmp_path):
    lora = LoRAConfig(r=4, alpha=8, targets=("qkvo",), dropout=0.1)  # dropout: resume must restore the RNG
    data = str(shakespeare_small)
    pretrain_gpt(data, None, cfg(), LMDataConfig(), tmp_path / "straight", quiet=True, init=gpt_base, lora=lora)

    def interrupt(step):
        if step == 5:
            raise KeyboardInterrupt
    with pytest.raises(LmlabError, match="interrupted at step 5"):
        pretrain_gpt(data, None, cfg(), LMDataConfig(), tmp_path / "split", quiet=True, init=gpt_base, lora=lora,
                     on_step_end=interrupt)
    pretrain_gpt(data, None, cfg(), LMDataConfig(), tmp_path / "split", resume=True, quiet=True)
    assert losses(tmp_path / "split") == losses(tmp_path / "straight")        # step for step, bit for bit

    run = tmp_path / "straight"
    meta = json.loads((run / "config.json").read_text())
    assert meta["lora"]["targets"] == ["qkvo"] and meta["init"] == str(gpt_base)
    # the frozen base really did not move: every base tensor equals the pretrained run's, bit for bit
    base, tuned = load_file(str(gpt_base / "model.safetensors")), load_file(str(run / "model.safetensors"))
    for name, t in base.items():
        key = name.replace("_proj.", "_proj.base.") if ".attn." in name else name
        assert torch.equal(tuned[key], t), name
    assert sum("lora_" in k for k in tuned) == 2 * 4 * 2                      # A, B × q, k, v, o × 2 layers
    assert (run / "adapter" / "adapter_config.json").is_file()              # the tiny GPT is a GPT-2: peft names
    adapter = load_file(str(run / "adapter" / "adapter_model.safetensors"))
    assert "base_model.model.transformer.h.1.attn.c_attn.lora_B.weight" in adapter
    model = Run.open(run).model()                                            # generate & co. get a merged model
    assert not any("lora_" in n for n, _ in model.named_parameters())



QUICK_FT = ["--max-len", "32", "--max_steps", "12", "--eval_every", "6", "--batch_size", "16", "--lr", "3e-3",
            "--device", "cpu"]


def test_finetune_with_lora_then_merge(bert_run, tmp_path, capsys, cli_fails):
    out = tmp_path / "cls"
    assert main(["finetune", "classify", "--model", str(bert_run), "--data", str(DATA), *QUICK_FT,
                 "--lora", "r=4,alpha=8,targets=qkv,ff", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "trainable params:" in printed and "LoRA r=4" in printed
    assert "pretrained by masked-LM alone" in printed and "--pooling mean usually" in printed  # MLM-only base
    meta = json.loads((out / "config.json").read_text())
    assert meta["lora"]["modules_to_save"] == ["classifier"] and meta["lora"]["targets"] == ["qkv", "ff"]
    results = json.loads((out / "results.json").read_text())
    lora_params = 2 * (3 * 2 * 4 * 128 + 2 * 4 * (128 + 512))                 # layers × (qkv + up, down) × (A + B)
    assert results["trainable_params"] == lora_params + 3 * 128 + 3
    assert json.loads((out / "adapter" / "adapter_config.json").read_text())["modules_to_save"] == ["classifier"]
    # encoder weights are the pretrained ones, bit for bit
    pre, tuned = load_file(str(bert_run / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert torch.equal(tuned["bert.blocks.0.attn.q_proj.base.weight"], pre["bert.blocks.0.attn.q_proj.weight"])
    assert torch.equal(tuned["bert.blocks.1.ff.down.base.bias"], pre["bert.blocks.1.ff.down.bias"])

    # merge: a plain classifier run that computes what the LoRA run computes
    assert main(["lora", "merge", str(out)]) == 0
    assert "merged 10 LoRA layers" in capsys.readouterr().out
    merged = tmp_path / "cls-merged"
    mmeta = json.loads((merged / "config.json").read_text())
    assert "lora" not in mmeta and mmeta["merged_lora"] == meta["lora"]
    assert {"tokenizer.json", "results.json", "metrics.jsonl"} <= {p.name for p in merged.iterdir()}
    assert not (merged / "train_state.pt").exists() and not (merged / "adapter").exists()
    bcfg = config_from_dict(BertConfig, meta["model"])
    plain = BertForSequenceClassification(BertModel(bcfg), 3)
    load_weights(merged, plain)
    with_lora = BertForSequenceClassification(BertModel(bcfg), 3)
    inject_lora(with_lora, config_from_dict(LoRAConfig, meta["lora"]))
    load_weights(out, with_lora)
    ids = torch.randint(5, bcfg.vocab_size, (4, 20))
    with torch.no_grad():
        torch.testing.assert_close(plain.eval()(ids), with_lora.eval()(ids), atol=1e-5, rtol=0)
    # never silently replaced
    cli_fails(["lora", "merge", str(out)], "already exists")
    assert main(["lora", "merge", str(out), "--out", str(merged), "--overwrite"]) == 0
    cli_fails(["lora", "merge", str(merged)], "not trained with --lora")


def test_mean_pooling_lora_classifier_then_merge(bert_run, tmp_path, capsys):
    """--pooling mean: no pooler in the run (so none under "all-linear"); the merged run is built with the
    same pooling and computes what the LoRA run computes."""
    out = tmp_path / "mean"
    assert main(["finetune", "classify", "--model", str(bert_run), "--data", str(DATA), *QUICK_FT,
                 "--pooling", "mean", "--lora", "r=4,targets=all-linear", "--out", str(out)]) == 0
    assert "masked-LM alone" not in capsys.readouterr().out
    meta = json.loads((out / "config.json").read_text())
    assert meta["finetune"]["pooling"] == "mean"
    assert not any("pooler" in k for k in load_file(str(out / "model.safetensors")))
    assert main(["lora", "merge", str(out)]) == 0
    assert "merged 12 LoRA layers" in capsys.readouterr().out               # 2 layers × (q, k, v, o, up, down)
    bcfg = config_from_dict(BertConfig, meta["model"])
    plain = BertForSequenceClassification(BertModel(bcfg), 3, pooling="mean")
    load_weights(tmp_path / "mean-merged", plain)
    with_lora = BertForSequenceClassification(BertModel(bcfg), 3, pooling="mean")
    inject_lora(with_lora, config_from_dict(LoRAConfig, meta["lora"]))
    load_weights(out, with_lora)
    ids = torch.randint(5, bcfg.vocab_size, (4, 20))
    with torch.no_grad():
        torch.testing.assert_close(plain.eval()(ids), with_lora.eval()(ids), atol=1e-5, rtol=0)


@pytest.mark.parametrize("spec,needle", [("r=0", "positive integer"), ("rank=8", "did you mean r?"),
                                         ("r=8,alpha", "not key=value"), ("targets=re:(", "regular expression")])
def test_bad_lora_specs(cli_fails, capsys, tmp_path, shakespeare_small, spec, needle):
    cli_fails(["train", "gpt", "--data", str(shakespeare_small), "--lora", spec, "--out", str(tmp_path / "r")],
              "--lora", needle)
    assert not (tmp_path / "r").exists()


def test_lora_cli_mistakes(cli_fails, capsys, tmp_path, bert_run, gpt_base, shakespeare_small):
    cli_fails(["finetune", "classify", "--model", str(bert_run), "--data", str(DATA), "--lora", "targets=query",
               "--out", str(tmp_path / "a")], "'query' matches no linear or embedding layer")
    cli_fails(["finetune", "classify", "--model", str(bert_run), "--data", str(DATA), "--lora", "r=4",
               "--freeze-layers", "1", "--out", str(tmp_path / "b")], "do not mix")
    cli_fails(["train", "gpt", "--out", str(gpt_base), "--resume", "--lora", "r=4"], "keeps its --lora")
    cli_fails(["train", "gpt", "--data", str(shakespeare_small), "--init", str(gpt_base), "--n_layers", "3",
               "--out", str(tmp_path / "c")], "--init takes the model")
    cli_fails(["lora", "merge", str(tmp_path / "nothing")], "does not exist")
    assert not any((tmp_path / d).exists() for d in "abc")

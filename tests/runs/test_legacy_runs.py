"""Run folders written by the lmlab released before the runs/ + cli/ restructuring (commit fba57cb) still open,
load, compute the same outputs, resume and export under the current code.

The fixtures in tests/data/legacy_runs/ were made by that lmlab (see its README.md); each run's
probe.safetensors holds inputs and the outputs the old code computed on them. Their config.json name
absolute paths of the machine that made them ("source", "init", "encoder", "source_run"), so every test
works on a copy whose paths point at the copied corpora and runs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lmlab.nn.nf4_linear import NF4Linear
from lmlab.peft.lora import LoRALinear
from lmlab.runs.run import Run

LEGACY = Path(__file__).resolve().parents[1] / "data" / "legacy_runs"
TEXT = "First Citizen: Before we proceed any further, hear me speak."   # as in make_probes.py
PATH_KEYS = {"source", "init", "encoder", "source_run"}

# run folder -> (family, NF4 layers as saved, LoRA layers as saved)
RUNS = {
    "gpt": ("gpt", False, False),
    "gpt-lora": ("gpt", False, True),
    "gpt-qlora": ("gpt", True, True),
    "gpt-nf4": ("gpt", True, False),
    "bert": ("bert", False, False),
    "bert-classifier": ("bert-classifier", False, False),
    "bert-classifier-lora": ("bert-classifier", False, True),
    "seq2seq": ("seq2seq", False, False),
}


def _relocate(value, root: Path):
    """An old absolute path -> the same corpus or run in the copy `root` (by its basename)."""
    if not isinstance(value, str) or not value.startswith("/"):
        return value
    name = Path(value).name
    for candidate in (root / "corpora" / name, root / name):
        if candidate.exists():
            return str(candidate)
    return value


def _rewrite(obj, root: Path):
    if isinstance(obj, dict):
        return {k: _relocate(v, root) if k in PATH_KEYS else _rewrite(v, root) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rewrite(v, root) for v in obj]
    return obj


def copy_legacy(dest: Path) -> Path:
    """The fixture tree copied to `dest`, its config.json paths pointing into the copy."""
    shutil.copytree(LEGACY, dest)
    for name in RUNS:
        config = dest / name / "config.json"
        meta = _rewrite(json.loads(config.read_text(encoding="utf-8")), dest)
        config.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    return dest


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """These models are a few thousand weights: one thread is twice as fast as two (restored after)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def legacy(tmp_path_factory) -> Path:
    """One shared copy, for the tests that only read it."""
    return copy_legacy(tmp_path_factory.mktemp("legacy") / "legacy_runs")


def probe(root: Path, name: str) -> dict[str, torch.Tensor]:
    return load_file(root / name / "probe.safetensors")


@torch.no_grad()
def outputs(name: str, model, p: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The model's outputs on the probe's inputs, under the probe's names."""
    family = RUNS[name][0]
    if family == "gpt":
        return {"logits": model(p["input_ids"])}
    if family == "seq2seq":
        return {"logits": model(p["src_ids"], p["tgt_ids"])}
    y = model(p["input_ids"], p["token_type_ids"], p["attention_mask"])
    if family == "bert":
        return {"mlm_logits": y[0], "nsp_logits": y[1]}
    return {"logits": y}


def same(got: torch.Tensor, want: torch.Tensor, what: str, atol: float = 1e-6) -> None:
    torch.testing.assert_close(got, want, atol=atol, rtol=0, msg=lambda m: f"{what}: {m}")


def layers(model, cls) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, cls)]


def test_paths_relocated(legacy):
    for name in RUNS:
        meta = json.loads((legacy / name / "config.json").read_text(encoding="utf-8"))
        for key in PATH_KEYS & meta.keys():
            assert Path(meta[key]).exists() and str(meta[key]).startswith(str(legacy)), (name, key, meta[key])
        assert Run.open(legacy / name).has_corpus(), name


@pytest.mark.parametrize("name", list(RUNS))
def test_open_load_and_same_outputs(legacy, name):
    family, nf4, lora = RUNS[name]
    run = Run.open(legacy / name)
    assert run.name == family
    assert (run.lora is not None) == lora and (run.nf4 is not None) == nf4
    p = probe(legacy, name)

    model = run.model().eval()                      # plain: merged, dequantised
    assert run.step == (0 if name == "gpt-nf4" else 3)   # `quantize nf4` saved its copy as step 0
    assert not layers(model, NF4Linear) and not layers(model, LoRALinear)
    for key, got in outputs(name, model, p).items():
        same(got, p[key], f"{name} {key}")

    saved = run.model(plain=False).eval()           # as saved: NF4 codes, LoRA adapters kept
    assert bool(layers(saved, NF4Linear)) == nf4 and bool(layers(saved, LoRALinear)) == lora
    if nf4 and lora:  # QLoRA: the adapters wrap NF4 layers
        assert any(isinstance(m.base, NF4Linear) for m in saved.modules() if isinstance(m, LoRALinear))
    if nf4 or lora:
        for key, got in outputs(name, saved, p).items():
            same(got, p[key + "_saved"], f"{name} {key} (as saved)")

    tok = run.tokenizer()
    assert tok.encode(TEXT) == p["text_ids"].tolist()


RESUMED = {"gpt": "gpt", "gpt-lora": "gpt", "gpt-qlora": "gpt", "bert": "bert", "seq2seq": "seq2seq"}


@pytest.mark.parametrize("name", list(RESUMED))
def test_resume(tmp_path, name):
    from lmlab.cli import main
    from lmlab.io.checkpoint import load_train_state

    root = copy_legacy(tmp_path / "legacy_runs")
    out = root / name
    before = (out / "metrics.jsonl").read_text(encoding="utf-8")
    assert main(["train", RESUMED[name], "--out", str(out), "--resume", "--max_steps", "5", "--quiet"]) == 0
    run = Run.open(out)
    run.model()
    assert run.step == 5
    assert load_train_state(out)["step"] == 5
    after = (out / "metrics.jsonl").read_text(encoding="utf-8")
    assert after.startswith(before)     # continued from step 3, not started over
    logged = [r["step"] for r in map(json.loads, after.splitlines()) if "loss" in r]
    assert logged == [1, 2, 3, 4, 5]
    saved = run.model(plain=False)   # still the run it was: LoRA / NF4 layers kept
    family, nf4, lora = RUNS[name]
    assert bool(layers(saved, NF4Linear)) == nf4 and bool(layers(saved, LoRALinear)) == lora


@pytest.mark.parametrize("name", ["gpt", "gpt-lora", "bert"])
def test_export_hf(legacy, tmp_path, name):
    transformers = pytest.importorskip("transformers")
    from lmlab.runs.hf import export_hf

    folder, model_type = export_hf(legacy / name, tmp_path / "hf")
    p = probe(legacy, name)
    with torch.no_grad():
        if name.startswith("gpt"):
            assert model_type == "gpt2"
            hf = transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
            same(hf(p["input_ids"]).logits, p["logits"], f"{name} exported", atol=1e-5)
        else:
            assert model_type == "bert"
            hf = transformers.BertForPreTraining.from_pretrained(folder).eval()
            y = hf(input_ids=p["input_ids"], token_type_ids=p["token_type_ids"], attention_mask=p["attention_mask"])
            real = p["attention_mask"].bool()
            same(y.prediction_logits[real], p["mlm_logits"][real], "bert exported mlm", atol=1e-5)
            same(y.seq_relationship_logits, p["nsp_logits"], "bert exported nsp", atol=1e-5)
    assert (folder / "tokenizer.json").is_file()

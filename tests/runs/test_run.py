"""lmlab.runs.run: `Run.open` and its refusals, the checked sections, the adapters' settings, the corpus rule,
the QLoRA rule, config.json written by `write_run_config` and read back, and the model a run loads."""

from __future__ import annotations

import json

import pytest
import torch

from lmlab.data.lm_config import LMDataConfig
from lmlab.data.tokenizers import train_tokenizer
from lmlab.errors import LmlabError
from lmlab.io.checkpoint import save_weights
from lmlab.models.gpt import GPT, preset
from lmlab.nn.nf4_linear import NF4Config, NF4Linear, nf4_layers, quantize_model
from lmlab.peft.lora import LoRAConfig, LoRALinear, inject_lora, lora_layers
from lmlab.runs.run import Run, check_qlora, write_run_config
from lmlab.train.config import TrainConfig

MODEL = preset("tiny", dropout=0.0)
CONFIGS = {"model": MODEL, "train": TrainConfig(max_steps=7), "data": LMDataConfig(val_fraction=0.2)}


def one_line(e: pytest.ExceptionInfo) -> str:
    """A clear LmlabError: one line, saying what is wrong."""
    assert e.type is LmlabError
    message = str(e.value)
    assert message and "\n" not in message, message
    return message


@pytest.fixture
def gpt_run(tmp_path):
    """A plain GPT run's config.json (no weights) whose corpus is a file beside it."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("to be or not to be\n", encoding="utf-8")
    (tmp_path / "run").mkdir()
    write_run_config(tmp_path / "run", "gpt", CONFIGS, source=str(corpus))
    return tmp_path / "run"


def write_meta(path, meta: dict):
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(meta), encoding="utf-8")
    return path


# ---- Run.open's refusals ------------------------------------------------------------------------------
def test_open_refuses_a_missing_folder(tmp_path):
    with pytest.raises(LmlabError) as e:
        Run.open(tmp_path / "nowhere")
    assert "does not exist" in one_line(e)


def test_open_refuses_a_folder_that_is_no_run(tmp_path):
    with pytest.raises(LmlabError) as e:
        Run.open(tmp_path)
    assert "has no config.json" in one_line(e)


def test_open_refuses_a_run_of_another_family(gpt_run):
    with pytest.raises(LmlabError) as e:
        Run.open(gpt_run, family="bert")
    assert "holds a 'gpt' run, not a 'bert' run" in one_line(e)
    with pytest.raises(LmlabError) as e:
        Run.open(gpt_run, family=("bert", "seq2seq"))
    assert "not a 'bert' or 'seq2seq' run" in one_line(e)
    assert Run.open(gpt_run, family=("bert", "gpt")).name == "gpt"


def test_open_refuses_a_family_the_command_does_not_take(gpt_run):
    with pytest.raises(LmlabError) as e:
        Run.open(gpt_run, command="translate")
    assert "`lmlab translate` does not take a 'gpt' run" in one_line(e)
    assert Run.open(gpt_run, command="generate").name == "gpt"


def test_open_refuses_an_unknown_family(tmp_path):
    write_meta(tmp_path / "run", {"family": "mamba", "model": {}})
    with pytest.raises(LmlabError) as e:
        Run.open(tmp_path / "run")
    message = one_line(e)
    assert "unknown family 'mamba'" in message and "gpt" in message and "bert" in message


def test_open_refuses_a_config_without_family_or_not_json(tmp_path):
    write_meta(tmp_path / "a", {"model": {}})
    with pytest.raises(LmlabError) as e:
        Run.open(tmp_path / "a")
    assert "is damaged (no 'family')" in one_line(e)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(LmlabError) as e:
        Run.open(tmp_path / "b")
    assert "corrupt" in one_line(e)


@pytest.mark.parametrize("damage,needle", [
    ({"model": {"n_layerz": 2}}, "n_layerz"),                 # an unknown key
    ({"model": {"n_layers": "two"}}, "n_layers"),             # a badly typed value
    ({"train": {"lr": -1.0}}, "TrainConfig"),                  # a value the config refuses
    ({"model": None}, "GPTConfig"),                            # not an object
])
def test_a_damaged_section_is_named_as_such(gpt_run, damage, needle):
    meta = json.loads((gpt_run / "config.json").read_text())
    write_meta(gpt_run, {**meta, **damage})
    run = Run.open(gpt_run)                          # the sections are checked when they are used
    with pytest.raises(LmlabError) as e:
        run.configs()
    message = one_line(e)
    assert "config.json is damaged" in message and needle in message and "restore it or retrain" in message


def test_a_missing_section_is_named(gpt_run):
    meta = json.loads((gpt_run / "config.json").read_text())
    del meta["model"]
    write_meta(gpt_run, meta)
    with pytest.raises(LmlabError) as e:
        Run.open(gpt_run).config("model")
    assert "is damaged (no 'model')" in one_line(e)
    with pytest.raises(LmlabError) as e:
        Run.open(gpt_run).build()
    assert "is damaged" in one_line(e)


def test_damaged_adapter_sections_are_named(gpt_run):
    meta = json.loads((gpt_run / "config.json").read_text())
    write_meta(gpt_run, {**meta, "lora": {"r": 0}, "quantization": {"method": "nf4"}})
    run = Run.open(gpt_run)
    with pytest.raises(LmlabError) as e:
        _ = run.lora
    assert "damaged 'lora' section" in one_line(e)
    with pytest.raises(LmlabError) as e:
        _ = run.nf4
    assert "damaged 'quantization' section" in one_line(e)


# ---- what an intact run gives ---------------------------------------------------------------------------
def test_configs_are_the_checked_dataclasses(gpt_run):
    run = Run.open(gpt_run, family="gpt")
    assert run.name == "gpt" and run.family.name == "gpt" and run.path == gpt_run
    assert run.configs() == CONFIGS
    assert run.configs("model") == {"model": MODEL}
    assert run.config("train") == TrainConfig(max_steps=7)
    assert run.config("data").val_fraction == 0.2


def test_a_plain_run_has_no_adapters(gpt_run):
    run = Run.open(gpt_run)
    assert run.lora is None and run.nf4 is None and not run.qlora


def test_corpus_is_there_or_named_as_gone(gpt_run, tmp_path):
    run = Run.open(gpt_run)
    assert run.has_corpus() and run.corpus() == str(tmp_path / "corpus.txt") == run.source
    (tmp_path / "corpus.txt").unlink()
    assert not run.has_corpus()
    with pytest.raises(LmlabError) as e:
        run.corpus()
    message = one_line(e)
    assert message.startswith("cannot resume") and str(tmp_path / "corpus.txt") in message and "is gone" in message
    with pytest.raises(LmlabError, match="^cannot measure: "):
        run.corpus("cannot measure")


def test_a_bundled_corpus_and_an_import(tmp_path):
    for name in ("bundled", "hf"):
        (tmp_path / name).mkdir()
    write_run_config(tmp_path / "bundled", "gpt", {"model": MODEL}, source="tinyshakespeare")
    assert Run.open(tmp_path / "bundled").corpus() == "tinyshakespeare"
    write_run_config(tmp_path / "hf", "gpt", {"model": MODEL}, source="hf:/some/folder")
    run = Run.open(tmp_path / "hf")
    assert not run.has_corpus()
    with pytest.raises(LmlabError) as e:
        run.corpus()
    assert "imported from Hugging Face" in one_line(e) and "--data" in str(e.value)


def test_check_qlora_refuses_nf4_without_lora():
    with pytest.raises(LmlabError) as e:
        check_qlora(None, NF4Config())
    assert "--lora" in one_line(e)
    check_qlora(LoRAConfig(), NF4Config())
    check_qlora(LoRAConfig(), None)
    check_qlora(None, None)


def test_write_run_config_refuses_nf4_without_lora_and_unknown_families(tmp_path):
    with pytest.raises(LmlabError, match="--lora"):
        write_run_config(tmp_path, "gpt", {"model": MODEL}, nf4=NF4Config())
    with pytest.raises(LmlabError, match="unknown model family 'mamba'"):
        write_run_config(tmp_path, "mamba", {"model": MODEL})
    assert not (tmp_path / "config.json").exists()


def test_write_run_config_round_trips_through_open(tmp_path):
    lora = LoRAConfig(r=4, alpha=8.0, targets=("qkvo",))
    nf4 = NF4Config(blocksize=32, double_quant=False, targets=("all-linear",))
    meta = write_run_config(tmp_path, "gpt", CONFIGS, source="tinyshakespeare", lora=lora, nf4=nf4, init="base")
    assert json.loads((tmp_path / "config.json").read_text()) == json.loads(json.dumps(meta))
    run = Run.open(tmp_path)
    assert run.meta == json.loads(json.dumps(meta)) and run.meta["init"] == "base" and "lmlab_version" in run.meta
    assert run.configs() == CONFIGS and run.source == "tinyshakespeare"
    assert run.lora == lora and run.nf4 == nf4 and run.qlora


# ---- the model and the tokenizer ------------------------------------------------------------------------
def test_model_loads_the_saved_weights_and_the_step(gpt_run):
    torch.manual_seed(1)
    saved = GPT(MODEL)
    save_weights(gpt_run, saved, step=5)
    run = Run.open(gpt_run)
    model = run.model()
    assert isinstance(model, GPT) and run.step == 5
    for (name, a), b in zip(saved.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), name
    fresh = run.build()
    assert isinstance(fresh, GPT) and fresh.cfg == MODEL


def test_a_qlora_run_loads_plain_or_as_saved(tmp_path):
    lora, nf4 = LoRAConfig(r=2, alpha=4.0, targets=("qkv",)), NF4Config(blocksize=64)
    write_run_config(tmp_path, "gpt", {"model": MODEL}, lora=lora, nf4=nf4)
    torch.manual_seed(2)
    saved = GPT(MODEL)
    quantize_model(saved, nf4)
    inject_lora(saved, lora)
    with torch.no_grad():
        for layer in lora_layers(saved).values():
            layer.lora_B.normal_(0, 0.1)             # adapters that change the output
    save_weights(tmp_path, saved, step=3)
    run = Run.open(tmp_path)
    kept, plain = run.model(plain=False), run.model()
    assert run.step == 3
    assert isinstance(kept.blocks[0].attn.q_proj, LoRALinear) and isinstance(kept.blocks[0].ff.up, NF4Linear)
    assert not lora_layers(plain) and not nf4_layers(plain)
    ids = torch.randint(0, MODEL.vocab_size, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(plain.eval()(ids), kept.eval()(ids), atol=1e-4, rtol=0)
        torch.testing.assert_close(kept(ids), saved.eval()(ids), atol=0, rtol=0)


def test_tokenizer_is_read_or_named_as_missing(gpt_run):
    run = Run.open(gpt_run)
    with pytest.raises(LmlabError) as e:
        run.tokenizer()
    assert "has no tokenizer.json" in one_line(e)
    train_tokenizer("char", "to be or not to be").save(gpt_run / "tokenizer.json")
    tok = run.tokenizer()
    assert tok.decode(tok.encode("to be")) == "to be"

"""lmlab GPT (Llama switches) <-> Hugging Face Llama: same logits both ways, exact round trips, refusals.

Tolerance: fp32 logits agree to TOL = 1e-5 (max abs difference). Both sides run the same maths
(RMSNorm in fp32, rotate_half RoPE, SwiGLU, GQA); the order of some operations differs
(HF repeats k/v heads, lmlab's attention may not), so bit-equality is not expected.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from lmlab.errors import LmlabError
from lmlab.io.hf_llama import hf_config_from_llama, llama_config_from_hf, load_hf_llama, save_hf_llama
from lmlab.models.gpt.model import GPT
from lmlab.models.gpt.presets import preset
from lmlab.runs.hf import load_hf, save_hf

transformers = pytest.importorskip("transformers")
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

TOL = 1e-5
SMALL = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
             intermediate_size=172, vocab_size=300, max_position_embeddings=128)


def _jitter_(model: torch.nn.Module, seed: int = 1) -> None:
    """Add noise to every parameter so unit RMSNorm gains are tested too."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)


def _hf_model(**overrides) -> LlamaForCausalLM:
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**{**SMALL, **overrides}, attn_implementation="eager"))
    assert model.config._attn_implementation == "eager"
    _jitter_(model)
    return model.eval()


def _ours(**overrides) -> GPT:
    """A llama-nano-like lmlab GPT with random weights."""
    torch.manual_seed(0)
    cfg = preset("llama-nano", vocab_size=300, max_seq_len=128, d_model=64, n_heads=4, n_kv_heads=2,
                 n_layers=4, d_ff=172, **overrides)
    model = GPT(cfg)
    _jitter_(model)
    return model.eval()


def _max_diff(hf: LlamaForCausalLM, ours: GPT) -> float:
    ids = torch.randint(0, ours.cfg.vocab_size, (2, 40), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        return (hf(ids).logits - ours(ids)).abs().max().item()


@pytest.mark.parametrize("kv_heads", [2, 1, 4], ids=["gqa", "mqa", "mha"])
def test_import_matches_hf_logits(tmp_path, kv_heads):
    hf = _hf_model(num_key_value_heads=kv_heads)
    hf.save_pretrained(tmp_path)
    ours = load_hf(tmp_path).eval()
    assert ours.cfg.kv_heads == kv_heads and ours.cfg.rope_theta == 10000.0 and ours.cfg.norm_eps == 1e-6
    assert ours.lm_head.weight is not ours.tok_emb.weight
    assert _max_diff(hf, ours) <= TOL


@pytest.mark.parametrize("tie", [False, True])
def test_export_loads_in_hf_and_matches(tmp_path, tie):
    ours = _ours(tie_embeddings=tie, rope_theta=50000.0)
    assert save_hf(ours, tmp_path / "hf") == "llama"
    saved = load_file(tmp_path / "hf" / "model.safetensors")
    assert ("lm_head.weight" in saved) == (not tie)  # tied: embed_tokens saved once, as save_pretrained does

    hf, info = LlamaForCausalLM.from_pretrained(tmp_path / "hf", output_loading_info=True,
                                                attn_implementation="eager")
    hf.eval()
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert (hf.lm_head.weight is hf.model.embed_tokens.weight) == tie
    assert hf.config.rope_parameters == {"rope_type": "default", "rope_theta": 50000.0}
    assert hf.config.num_key_value_heads == 2
    assert _max_diff(hf, ours) <= TOL

    back = load_hf(tmp_path / "hf")
    a, b = ours.state_dict(), back.state_dict()
    assert back.cfg == ours.cfg
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("tie", [False, True])
def test_hf_round_trip_is_bit_exact(tmp_path, tie):
    """HF save_pretrained -> lmlab -> lmlab save -> the same tensors, bit for bit, under the same names."""
    hf = _hf_model(tie_word_embeddings=tie, rope_parameters={"rope_type": "default", "rope_theta": 500000.0})
    hf.save_pretrained(tmp_path / "a")
    ours = load_hf_llama(tmp_path / "a")
    assert ours.cfg.rope_theta == 500000.0 and ours.cfg.tie_embeddings == tie
    assert (ours.lm_head.weight is ours.tok_emb.weight) == tie
    save_hf_llama(ours, tmp_path / "b")
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_rope_theta_is_carried_over(tmp_path):
    hf = _hf_model(rope_parameters={"rope_type": "default", "rope_theta": 1234.5})
    hf.save_pretrained(tmp_path)
    ours = load_hf(tmp_path).eval()
    assert ours.cfg.rope_theta == 1234.5
    assert _max_diff(hf, ours) <= TOL


def test_old_style_config_with_top_level_rope_theta():
    """transformers 4 wrote rope_theta at the top level and rope_scaling (often null) beside it."""
    old = {**SMALL, "model_type": "llama", "rope_theta": 500000.0, "rope_scaling": None}
    assert llama_config_from_hf(old).rope_theta == 500000.0
    assert llama_config_from_hf({**old, "rope_scaling": {"rope_type": "default"}}).rope_theta == 500000.0
    del old["rope_theta"]
    assert llama_config_from_hf(old).rope_theta == 10000.0  # LlamaConfig's default


def test_config_round_trip_and_transformers_accepts_it():
    cfg = _ours(rope_theta=500000.0, norm_eps=1e-5, dropout=0.1, tie_embeddings=True).cfg
    d = hf_config_from_llama(cfg)
    hf_cfg = LlamaConfig(**d)
    assert hf_cfg.rope_parameters["rope_theta"] == 500000.0 and hf_cfg.head_dim == cfg.head_dim
    assert llama_config_from_hf(d) == cfg
    assert llama_config_from_hf(hf_cfg.to_dict()) == cfg  # the form transformers 5 writes


def test_sharded_checkpoint_and_old_rotary_buffers(tmp_path):
    hf = _hf_model()
    hf.save_pretrained(tmp_path / "sharded", max_shard_size="100KB")
    assert (tmp_path / "sharded" / "model.safetensors.index.json").is_file()
    assert _max_diff(hf, load_hf(tmp_path / "sharded").eval()) <= TOL

    hf.save_pretrained(tmp_path / "old")  # old conversions also saved each layer's inv_freq table
    sd = load_file(tmp_path / "old" / "model.safetensors")
    for i in range(SMALL["num_hidden_layers"]):
        sd[f"model.layers.{i}.self_attn.rotary_emb.inv_freq"] = torch.ones(8)
    save_file(sd, tmp_path / "old" / "model.safetensors")
    assert _max_diff(hf, load_hf(tmp_path / "old").eval()) <= TOL


@pytest.mark.parametrize("override, field", [
    (dict(attention_bias=True), "attention_bias"),
    (dict(mlp_bias=True), "mlp_bias"),
    (dict(hidden_act="gelu"), "hidden_act"),
    (dict(rope_scaling={"rope_type": "linear", "factor": 2.0}), "rope_scaling"),
    (dict(rope_parameters={"rope_type": "llama3", "rope_theta": 5e5, "factor": 8.0}), "rope_parameters"),
    (dict(head_dim=32), "head_dim"),
    (dict(model_type="mistral"), "model_type"),
    (dict(num_key_value_heads=3), "divisible"),
])
def test_unsupported_hf_config_is_refused(override, field):
    with pytest.raises(LmlabError, match=field):
        llama_config_from_hf({**SMALL, "model_type": "llama", **override})


@pytest.mark.parametrize("model_type", ["t5", None])
def test_load_hf_names_the_supported_model_types(tmp_path, model_type):
    (tmp_path / "config.json").write_text(json.dumps({**SMALL, "model_type": model_type}))
    with pytest.raises(LmlabError, match="model_type.*'gpt2'.*'llama'"):
        load_hf(tmp_path)


@pytest.mark.parametrize("override, field", [
    (dict(bias=True), "bias"),
    (dict(norm="layernorm"), "norm"),
    (dict(activation="gelu"), "activation"),
    (dict(attn_window=16), "attn_window"),
])
def test_unsupported_export_is_refused(tmp_path, override, field):
    model = GPT(preset("llama-nano", n_layers=1, **override))
    with pytest.raises(LmlabError, match=field):
        save_hf_llama(model, tmp_path / "out")
    with pytest.raises(LmlabError, match=f"neither GPT-2 nor Llama.*{field}"):
        save_hf(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_save_hf_picks_gpt2_for_a_gpt2_config(tmp_path):
    assert save_hf(GPT(preset("tiny")), tmp_path / "g") == "gpt2"
    assert json.loads((tmp_path / "g" / "config.json").read_text())["model_type"] == "gpt2"
    assert load_hf(tmp_path / "g").cfg == preset("tiny")


def test_wrong_shapes_are_reported(tmp_path):
    _hf_model().save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "intermediate_size": 100}))
    with pytest.raises(LmlabError, match=r"wrong shape blocks\.0\.ff\.down\.weight"):
        load_hf(tmp_path)


def test_gpt2_export_refuses_rmsnorm(tmp_path):
    """A learned-position GPT with RMSNorm is neither GPT-2 nor Llama; GPT-2 says why instead of crashing."""
    model = GPT(preset("tiny", norm="rmsnorm"))
    with pytest.raises(LmlabError, match="norm='rmsnorm'"):
        save_hf(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()

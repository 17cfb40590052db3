"""lmlab GPT <-> Hugging Face GPT-2: same logits both ways, exact round trips, clear refusals.

Tolerance: fp32 logits agree to TOL = 1e-5 (max abs difference). The two models run the same
maths in a different order (fused vs split q/k/v, Conv1D vs Linear), so bit-equality is not expected.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from lmlab.errors import LmlabError
from lmlab.io.hf_gpt2 import gpt_config_from_hf, hf_config_from_gpt, load_hf_gpt2, save_hf_gpt2
from lmlab.models.gpt.model import GPT
from lmlab.models.gpt.presets import preset

transformers = pytest.importorskip("transformers")
from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402

TOL = 1e-5
SMALL = dict(n_embd=64, n_layer=2, n_head=4, n_positions=32, vocab_size=97,
             resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)


def _jitter_(model: torch.nn.Module, seed: int = 1) -> None:
    """Add noise to every parameter so zero-initialised biases and unit LayerNorm gains are tested too."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)


def _hf_model(attn_implementation: str = "eager", **overrides) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(**{**SMALL, **overrides}, attn_implementation=attn_implementation))
    assert model.config._attn_implementation == attn_implementation
    _jitter_(model)
    return model.eval()


def _ids(vocab_size: int, T: int = 16) -> torch.Tensor:
    return torch.randint(0, vocab_size, (2, T), generator=torch.Generator().manual_seed(2))


def _max_diff(hf: GPT2LMHeadModel, ours: GPT, vocab_size: int) -> float:
    ids = _ids(vocab_size)
    with torch.no_grad():
        return (hf(ids).logits - ours(ids)).abs().max().item()


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("activation", ["gelu_new", "gelu", "relu"])
def test_import_matches_hf_logits(tmp_path, activation, attn_implementation):
    hf = _hf_model(attn_implementation, activation_function=activation)
    hf.save_pretrained(tmp_path)
    ours = load_hf_gpt2(tmp_path).eval()
    assert ours.cfg.activation == {"gelu_new": "gelu", "gelu": "gelu_exact", "relu": "relu"}[activation]
    assert ours.lm_head.weight is ours.tok_emb.weight
    assert _max_diff(hf, ours, 97) <= TOL


@pytest.mark.parametrize("tie", [True, False])
def test_export_loads_in_hf_and_matches(tmp_path, tie):
    torch.manual_seed(0)
    ours = GPT(preset("tiny", tie_embeddings=tie))
    _jitter_(ours)
    ours.eval()
    save_hf_gpt2(ours, tmp_path / "hf")
    saved = load_file(tmp_path / "hf" / "model.safetensors")
    assert ("lm_head.weight" in saved) == (not tie)  # tied: wte saved once, as save_pretrained does
    assert all(k.startswith("transformer.") for k in saved if k != "lm_head.weight")

    hf, info = GPT2LMHeadModel.from_pretrained(tmp_path / "hf", output_loading_info=True)
    hf.eval()
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert (hf.lm_head.weight is hf.transformer.wte.weight) == tie
    assert _max_diff(hf, ours, ours.cfg.vocab_size) <= TOL

    back = load_hf_gpt2(tmp_path / "hf")
    a, b = ours.state_dict(), back.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_bias_free_export_has_zero_biases_and_matches(tmp_path):
    """A bias=False GPT (nanoGPT's choice, the shakespeare-char recipe's) is GPT-2 with zero biases."""
    torch.manual_seed(0)
    ours = GPT(preset("tiny", bias=False, activation="gelu_exact"))
    _jitter_(ours)
    ours.eval()
    save_hf_gpt2(ours, tmp_path / "hf")
    hf, info = GPT2LMHeadModel.from_pretrained(tmp_path / "hf", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    biases = [t for k, t in hf.state_dict().items() if k.endswith(".bias") and ".attn.bias" not in k]
    assert biases and all(not t.any() for t in biases)
    assert _max_diff(hf.eval(), ours, ours.cfg.vocab_size) <= TOL
    back = load_hf_gpt2(tmp_path / "hf").eval()   # back as a GPT with (zero) biases: the same logits
    ids = _ids(ours.cfg.vocab_size)
    with torch.no_grad():
        assert (back(ids) - ours(ids)).abs().max().item() <= TOL


def test_keys_without_prefix_and_old_mask_buffers(tmp_path):
    """The original openai-community/gpt2 files have no "transformer." prefix and keep attn.bias buffers."""
    hf = _hf_model()
    hf.save_pretrained(tmp_path)
    sd = {k.removeprefix("transformer."): v for k, v in load_file(tmp_path / "model.safetensors").items()}
    for i in range(SMALL["n_layer"]):
        sd[f"h.{i}.attn.bias"] = torch.tril(torch.ones(1, 1, 32, 32, dtype=torch.bool))
        sd[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    sd["lm_head.weight"] = sd["wte.weight"].clone()
    save_file(sd, tmp_path / "model.safetensors")
    assert _max_diff(hf, load_hf_gpt2(tmp_path).eval(), 97) <= TOL


def test_sharded_checkpoint(tmp_path):
    hf = _hf_model()
    hf.save_pretrained(tmp_path, max_shard_size="50KB")
    assert (tmp_path / "model.safetensors.index.json").is_file()
    assert _max_diff(hf, load_hf_gpt2(tmp_path).eval(), 97) <= TOL


def test_config_round_trip():
    cfg = preset("tiny", d_ff=96, activation="gelu_exact", norm_eps=1e-6, dropout=0.1)
    d = hf_config_from_gpt(cfg)
    GPT2Config(**d)  # transformers accepts it
    assert gpt_config_from_hf(d) == cfg


@pytest.mark.parametrize("override, word", [
    (dict(scale_attn_by_inverse_layer_idx=True), "scale_attn_by_inverse_layer_idx"),
    (dict(scale_attn_weights=False), "scale_attn_weights"),
    (dict(add_cross_attention=True), "add_cross_attention"),
    (dict(activation_function="silu"), "activation_function"),
    (dict(model_type="bert"), "model_type"),
    (dict(n_head=5), "divisible"),
])
def test_unsupported_hf_config_is_refused(override, word):
    with pytest.raises(LmlabError, match=word):
        gpt_config_from_hf({**SMALL, "model_type": "gpt2", **override})


@pytest.mark.parametrize("override, field", [
    (dict(norm_first=False), "norm_first"),
    (dict(pos_embedding="sinusoidal"), "pos_embedding"),
    (dict(n_kv_heads=2), "n_kv_heads"),
])
def test_unsupported_export_is_refused(tmp_path, override, field):
    with pytest.raises(LmlabError, match=field):
        save_hf_gpt2(GPT(preset("tiny", **override)), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_weights_file(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({**SMALL, "model_type": "gpt2"}))
    with pytest.raises(LmlabError, match="model.safetensors"):
        load_hf_gpt2(tmp_path)
    with pytest.raises(LmlabError, match="config.json"):
        load_hf_gpt2(tmp_path / "nowhere")


def test_wrong_shapes_are_reported(tmp_path):
    _hf_model().save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "n_layer": 3}))
    with pytest.raises(LmlabError, match="missing blocks.2"):
        load_hf_gpt2(tmp_path)


def test_export_never_overwrites_silently(tmp_path):
    model = GPT(preset("tiny"))
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(LmlabError, match="not empty"):
        save_hf_gpt2(model, tmp_path)
    save_hf_gpt2(model, tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    empty = tmp_path / "empty"
    empty.mkdir()
    save_hf_gpt2(model, empty)  # an empty folder is fine
    assert (empty / "config.json").is_file()

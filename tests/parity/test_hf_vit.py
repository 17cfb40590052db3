"""lmlab ViT <-> Hugging Face ViT (ViTModel, ViTForImageClassification): same outputs both ways, refusals.

Tolerance: fp32 outputs (last hidden state, pooler output, logits) agree to TOL = 1e-5 (max abs
difference) on random images, in eval mode, weights random (built from a config) and jittered so zero
biases and unit LayerNorm gains are exercised. HF runs its eager attention, lmlab its default (sdpa).
Position interpolation is compared with HF's `interpolate_pos_encoding=True` on a larger image.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from lmlab.errors import LmlabError
from lmlab.io.hf_vit import hf_config_from_vit, load_hf_vit, save_hf_vit, vit_config_from_hf
from lmlab.models.vit import ViTConfig, ViTForImageClassification
from lmlab.runs.hf import load_hf, save_hf

transformers = pytest.importorskip("transformers")
from transformers import ViTConfig as HFViTConfig  # noqa: E402
from transformers import ViTForImageClassification as HFViTForImageClassification  # noqa: E402
from transformers import ViTModel as HFViTModel  # noqa: E402

TOL = 1e-5
SMALL = dict(image_size=32, patch_size=8, num_channels=3, hidden_size=48, num_hidden_layers=2,
             num_attention_heads=4, intermediate_size=96, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
OURS = ViTConfig(image_size=32, patch_size=8, d_model=48, n_heads=4, n_layers=3, d_ff=96, n_classes=5)
B = 3


def _jitter_(model: torch.nn.Module, seed: int = 1, scale: float = 0.05) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)


def _hf(cls, **overrides):
    torch.manual_seed(0)
    model = cls(HFViTConfig(**{**SMALL, **overrides}, attn_implementation="eager"))
    _jitter_(model)
    return model.eval()


def _images(size: int = 32, channels: int = 3) -> torch.Tensor:
    return torch.randn(B, channels, size, size, generator=torch.Generator().manual_seed(2))


def _compare(hf, ours, images=None, **hf_kw) -> dict[str, float]:
    """Max differences of every output the two share: hidden states (and pooler output) or logits."""
    x = _images() if images is None else images
    with torch.no_grad():
        h = hf(pixel_values=x, **hf_kw)
        if isinstance(hf, HFViTModel):
            o = ours.vit(x)
            out = {"hidden": (h.last_hidden_state - o.hidden).abs().max().item()}
            if h.pooler_output is not None:
                out["pooled"] = (h.pooler_output - ours(x)).abs().max().item()
            return out
        return {"logits": (h.logits - ours(x)).abs().max().item()}


# ------------------------------------------------------------------------------- HF -> lmlab ---

@pytest.mark.parametrize("hf_cls,kw", [(HFViTModel, {}), (HFViTModel, dict(add_pooling_layer=False)),
                                       (HFViTForImageClassification, {})])
def test_import_matches_hf(tmp_path, hf_cls, kw):
    torch.manual_seed(0)
    hf = hf_cls(HFViTConfig(**SMALL, num_labels=3, attn_implementation="eager"), **kw)
    _jitter_(hf)
    hf.eval().save_pretrained(tmp_path)
    ours = load_hf_vit(tmp_path).eval()
    assert type(load_hf(tmp_path)) is ViTForImageClassification              # the model_type dispatcher
    assert ours.cfg.n_classes == (3 if hf_cls is HFViTForImageClassification else 0)
    assert ours.cfg.pooler == (hf_cls is HFViTModel and not kw)
    diffs = _compare(hf, ours)
    assert max(diffs.values()) <= TOL, diffs


def test_import_grey_images_tanh_gelu_and_wide_ff(tmp_path):
    hf = _hf(HFViTForImageClassification, num_channels=1, hidden_act="gelu_new", intermediate_size=80,
             image_size=28, patch_size=7, layer_norm_eps=1e-6)
    hf.save_pretrained(tmp_path)
    ours = load_hf_vit(tmp_path).eval()
    assert (ours.cfg.activation, ours.cfg.d_ff, ours.cfg.n_patches, ours.cfg.norm_eps) == ("gelu", 80, 16, 1e-6)
    assert max(_compare(hf, ours, _images(28, 1)).values()) <= TOL


def test_interpolated_positions_match_hf(tmp_path):
    """A 48² image on a 32² model: 6×6 patches, positions resized bicubically from the 4×4 grid, as HF's
    interpolate_pos_encoding=True; without interpolation the model would have no positions for them."""
    hf = _hf(HFViTForImageClassification)
    hf.save_pretrained(tmp_path)
    ours = load_hf_vit(tmp_path).eval()
    diffs = _compare(hf, ours, _images(48), interpolate_pos_encoding=True)
    assert max(diffs.values()) <= TOL, diffs


# ------------------------------------------------------------------------------- lmlab -> HF ---

@pytest.mark.parametrize("hf_cls,n_classes,pooler", [(HFViTForImageClassification, 5, False), (HFViTModel, 0, True)])
def test_export_loads_in_hf_and_matches(tmp_path, hf_cls, n_classes, pooler):
    torch.manual_seed(0)
    ours = ViTForImageClassification(ViTConfig(**{**OURS.__dict__, "n_classes": n_classes, "pooler": pooler}))
    _jitter_(ours)
    ours.eval()
    assert save_hf(ours, tmp_path / "hf") == "vit"                          # the dispatcher
    hf_cfg = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert hf_cfg["model_type"] == "vit" and hf_cfg["architectures"] == [hf_cls.__name__]
    hf, info = hf_cls.from_pretrained(tmp_path / "hf", output_loading_info=True, attn_implementation="eager")
    hf.eval()
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    diffs = _compare(hf, ours)
    assert max(diffs.values()) <= TOL, diffs


def test_round_trip_is_bit_exact(tmp_path):
    torch.manual_seed(0)
    ours = ViTForImageClassification(OURS)
    _jitter_(ours)
    save_hf_vit(ours, tmp_path / "a")
    back = load_hf_vit(tmp_path / "a")
    assert back.cfg == ours.cfg
    sd, sd_back = ours.state_dict(), back.state_dict()
    assert sd.keys() == sd_back.keys() and all(torch.equal(sd[k], sd_back[k]) for k in sd)
    save_hf_vit(back, tmp_path / "b")
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert a["vit.embeddings.cls_token"].shape == (1, 1, 48)
    assert a["vit.embeddings.position_embeddings"].shape == (1, 17, 48)


def test_config_round_trip():
    hf = hf_config_from_vit(OURS)
    assert (hf["intermediate_size"], hf["hidden_act"], hf["patch_size"]) == (96, "gelu", 8)
    assert vit_config_from_hf(hf, has_pooler=False, n_classes=5) == OURS
    default = ViTConfig()
    assert vit_config_from_hf(hf_config_from_vit(default), False, 1000) == default  # d_ff 0 <-> 4 * hidden_size


# --------------------------------------------------------------------------------- refusals ---

@pytest.mark.parametrize("overrides,match", [(dict(stride=4), "stride 4 ≠ patch_size 8"),
                                             (dict(pool="mean"), "pool='mean'"),
                                             (dict(pooler=True), "pooler under the classifier")])
def test_export_refuses_what_hf_cannot_compute(tmp_path, overrides, match):
    model = ViTForImageClassification(ViTConfig(**{**OURS.__dict__, **overrides}))
    with pytest.raises(LmlabError, match=match):
        save_hf(model, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()                                    # refused before writing


@pytest.mark.parametrize("field,value,match", [("qkv_bias", False, "qkv_bias"), ("hidden_act", "silu", "hidden_act"),
                                               ("image_size", [32, 48], "square"),
                                               ("image_size", 30, "uncovered"), ("model_type", "deit", "deit")])
def test_import_refuses_what_lmlab_cannot_compute(field, value, match):
    with pytest.raises(LmlabError, match=match):
        vit_config_from_hf({**hf_config_from_vit(OURS), field: value}, has_pooler=False, n_classes=5)


def test_recomputed_attention_weights_match_hf_output_attentions(tmp_path):
    """Attention rollout reads every layer's weights, recomputed from the shared attention module's inputs
    (lmlab.tools.attention_map); they equal HF's output_attentions (eager) to TOL."""
    from lmlab.tools.attention_map import layer_attention_weights
    hf = _hf(HFViTForImageClassification)
    hf.save_pretrained(tmp_path)
    ours = load_hf_vit(tmp_path).eval()
    x = _images()
    with torch.no_grad():
        theirs = hf(pixel_values=x, output_attentions=True).attentions
    mine = layer_attention_weights([b.attn for b in ours.vit.blocks], lambda: ours(x))
    assert len(mine) == len(theirs) == 2
    for a, b in zip(mine, theirs):
        assert a.shape == b.shape == (B, 4, 17, 17)
        assert (a - b).abs().max().item() <= TOL

import pytest
import torch

from lmlab.models.gpt import GPT, GPTConfig, preset
from lmlab.models.gpt.presets import PRESETS, PUBLISHED, count_parameters


def tiny(**kw):
    return GPTConfig(**{**dict(vocab_size=50, max_seq_len=16, d_model=32, n_heads=4, n_layers=2), **kw})


def test_logits_shape_and_tied_head():
    model = GPT(tiny())
    logits = model(torch.randint(0, 50, (3, 10)))
    assert logits.shape == (3, 10, 50)
    assert model.lm_head.weight is model.tok_emb.weight


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("pos", ["learned", "sinusoidal"])
def test_causal_future_tokens_do_not_change_past_logits(norm_first, pos):
    model = GPT(tiny(norm_first=norm_first, pos_embedding=pos)).eval()
    x = torch.randint(0, 50, (2, 12))
    y = x.clone()
    y[:, 8:] = (y[:, 8:] + 1) % 50
    assert torch.equal(model(x)[:, :8], model(y)[:, :8])
    assert not torch.allclose(model(x)[:, 8:], model(y)[:, 8:])


def test_backends_agree():
    torch.manual_seed(0)
    a = GPT(tiny(attn_backend="sdpa")).eval()
    b = GPT(tiny(attn_backend="naive")).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randint(0, 50, (2, 16))
    torch.testing.assert_close(a(x), b(x), atol=1e-5, rtol=0)  # fp32, tolerance 1e-5


def test_gpt2_init_scales_residual_projections():
    torch.manual_seed(0)
    cfg = tiny(d_model=256, n_layers=8, n_heads=4)
    model = GPT(cfg)
    std_plain = model.blocks[0].attn.q_proj.weight.std().item()
    std_resid = model.blocks[0].attn.out_proj.weight.std().item()
    assert abs(std_plain - 0.02) < 0.001
    assert abs(std_resid - 0.02 / (2 * 8) ** 0.5) < 0.0005
    assert torch.all(model.blocks[0].ff.up.bias == 0)


@pytest.mark.parametrize("name", [n for n in PRESETS if n in ("tiny", "nano", "gpt1", "gpt2-small")])
def test_count_parameters_matches_built_model(name):
    assert GPT(preset(name)).num_parameters() == count_parameters(preset(name))


def test_published_parameter_counts():
    # GPT-2 releases: exact; GPT-1 and GPT-3 are published rounded: within 2 %.
    assert count_parameters(preset("gpt2-small")) == 124_439_808
    for name, published in PUBLISHED.items():
        assert abs(count_parameters(preset(name)) - published) / published < 0.02, name


def test_post_ln_has_no_final_norm_and_config_validation():
    assert isinstance(GPT(tiny(norm_first=False)).norm_f, torch.nn.Identity)
    with pytest.raises(ValueError, match="divisible"):
        tiny(d_model=30)
    with pytest.raises(ValueError, match="longer than the context"):
        GPT(tiny())(torch.zeros(1, 17, dtype=torch.long))

"""lmlab.nn.init: the same draws as torch.nn.init under the same seed, and the variances of the papers."""

from __future__ import annotations

import math

import pytest
import torch

from lmlab.nn import init as I

SHAPES = [(300, 200), (64, 32, 3, 3)]          # a Linear weight, a conv kernel (fans × 9)


def torch_then_ours(ours, ref, shape, seed=123):
    torch.manual_seed(seed)
    a = ref(torch.empty(shape))
    torch.manual_seed(seed)
    b = ours(torch.empty(shape))
    return a, b


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, I.calculate_gain("tanh")])
def test_xavier_equals_torch(shape, gain):
    for ours, ref in [(I.xavier_uniform_, torch.nn.init.xavier_uniform_), (I.xavier_normal_, torch.nn.init.xavier_normal_)]:
        a, b = torch_then_ours(lambda t, o=ours: o(t, gain=gain), lambda t, r=ref: r(t, gain=gain), shape)
        assert torch.equal(a, b)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0.0), ("leaky_relu", 0.0), ("leaky_relu", 0.2),
                                            ("linear", 0.0), ("tanh", 0.0)])
def test_kaiming_equals_torch(shape, mode, nonlinearity, a):
    for ours, ref in [(I.kaiming_uniform_, torch.nn.init.kaiming_uniform_),
                      (I.kaiming_normal_, torch.nn.init.kaiming_normal_)]:
        x, y = torch_then_ours(lambda t, o=ours: o(t, a=a, mode=mode, nonlinearity=nonlinearity),
                               lambda t, r=ref: r(t, a=a, mode=mode, nonlinearity=nonlinearity), shape)
        assert torch.equal(x, y)


def test_normal_equals_torch_and_generator_is_used():
    a, b = torch_then_ours(lambda t: I.normal_(t, 0.02), lambda t: torch.nn.init.normal_(t, 0.0, 0.02), (50, 40))
    assert torch.equal(a, b)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(I.kaiming_normal_(torch.empty(20, 10), generator=g1),
                       torch.nn.init.kaiming_normal_(torch.empty(20, 10), generator=g2))


@pytest.mark.parametrize("name,param,expected", [("linear", None, 1.0), ("sigmoid", None, 1.0), ("tanh", None, 5 / 3),
                                                 ("relu", None, math.sqrt(2)), ("leaky_relu", None, math.sqrt(2 / 1.0001)),
                                                 ("leaky_relu", 0.2, math.sqrt(2 / 1.04)), ("selu", None, 0.75)])
def test_gains(name, param, expected):
    assert I.calculate_gain(name, param) == pytest.approx(expected)
    assert I.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_statistics_match_the_formulas():
    """On a 500×400 tensor (200k draws) the sample std is within 2 % of the formula's."""
    w = torch.empty(500, 400)                    # fan_out = 500, fan_in = 400
    cases = [
        (I.xavier_uniform_, {}, math.sqrt(2 / 900)),
        (I.xavier_normal_, {"gain": 5 / 3}, 5 / 3 * math.sqrt(2 / 900)),
        (I.kaiming_uniform_, {"nonlinearity": "relu"}, math.sqrt(2 / 400)),
        (I.kaiming_normal_, {"nonlinearity": "relu", "mode": "fan_out"}, math.sqrt(2 / 500)),
        (I.kaiming_normal_, {"nonlinearity": "linear"}, math.sqrt(1 / 400)),
        (I.normal_, {"std": 0.02}, 0.02),
    ]
    for fn, kw, std in cases:
        fn(w, **kw)
        assert abs(w.mean().item()) < 0.02 * std * 5
        assert abs(w.std().item() / std - 1) < 0.02, fn.__name__
    I.xavier_uniform_(w)
    bound = math.sqrt(6 / 900)
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound


def test_kaiming_keeps_relu_activations_variance():
    """Why √2: through 10 ReLU layers with He init the signal neither vanishes nor explodes."""
    x = torch.randn(2000, 256)
    h = x
    for _ in range(10):
        h = torch.relu(h @ I.kaiming_normal_(torch.empty(256, 256), nonlinearity="relu").T)
    ratio = h.pow(2).mean() / x.pow(2).mean()    # E[h²] stays ≈ E[x²] (= 1): gain² · ½ = 1 per layer
    assert 0.5 < ratio < 2


def test_errors():
    with pytest.raises(ValueError, match="at least 2 dims"):
        I.xavier_uniform_(torch.empty(5))
    with pytest.raises(ValueError, match="mode"):
        I.kaiming_normal_(torch.empty(5, 5), mode="fan_avg")
    with pytest.raises(ValueError, match="nonlinearity"):
        I.calculate_gain("swish")


def test_scaled_residual_std():
    assert I.scaled_residual_std(0.02, 12) == pytest.approx(0.02 / math.sqrt(24))


def test_gpt2_init_draws_what_torch_nn_init_draws():
    """gpt2_init_ on a GPT is bit-identical to the same scheme written with torch.nn.init."""
    from lmlab.models.gpt import GPT, GPTConfig

    cfg = GPTConfig(vocab_size=50, max_seq_len=16, d_model=32, n_heads=4, n_layers=2)
    torch.manual_seed(0)
    model = GPT(cfg)
    torch.manual_seed(1)
    I.gpt2_init_(model, cfg.n_layers)
    ours = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(1)
    for module in model.modules():               # the scheme as it was written before, with torch.nn.init
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, torch.nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
        elif isinstance(module, torch.nn.LayerNorm):
            torch.nn.init.ones_(module.weight)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
    for name, p in model.named_parameters():
        if name.endswith(I.RESIDUAL_PROJECTIONS):
            torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layers))
    ref = model.state_dict()
    assert ours.keys() == ref.keys() and all(torch.equal(ours[k], ref[k]) for k in ours)

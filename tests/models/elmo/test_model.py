"""lmlab.models.elmo.model: the forward LM never sees the future and the backward LM never the past (the point
of two separate stacks), padding changes nothing, ScalarMix's numbers, and the parameter count from shapes."""

from __future__ import annotations

import math

import pytest
import torch

from lmlab.models.elmo import ElmoConfig, count_parameters, preset
from lmlab.models.elmo.model import Elmo, ScalarMix, reverse

CFG = ElmoConfig(vocab_size=50, max_chars=8, char_dim=4, filters=((1, 4), (2, 6), (3, 6)), d_model=8, d_hidden=16,
                 n_layers=2, dropout=0.1, max_seq_len=7)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Elmo(CFG).eval()


def chars(B: int, T: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 261, (B, T, CFG.max_chars), generator=g)


def test_forward_lm_at_t_ignores_words_after_t_and_backward_lm_words_before(model):
    a = chars(2, 7, seed=1)
    t = 3
    later = a.clone()
    later[:, t + 1:] = chars(2, 7, seed=2)[:, t + 1:]       # change every word after t
    earlier = a.clone()
    earlier[:, :t] = chars(2, 7, seed=3)[:, :t]             # change every word before t
    with torch.no_grad():
        base, after, before = model.states(a), model.states(later), model.states(earlier)
    for j in range(CFG.n_layers):
        torch.testing.assert_close(after.forward[j][:, :t + 1], base.forward[j][:, :t + 1], rtol=0, atol=0)
        torch.testing.assert_close(before.backward[j][:, t:], base.backward[j][:, t:], rtol=0, atol=0)
        # and each direction does read its own side
        assert not torch.allclose(after.backward[j][:, :t + 1], base.backward[j][:, :t + 1])
        assert not torch.allclose(before.forward[j][:, t:], base.forward[j][:, t:])
    fwd_logits, bwd_logits = model(a)
    fwd_later, _ = model(later)
    torch.testing.assert_close(fwd_later[:, :t + 1], fwd_logits[:, :t + 1], rtol=0, atol=0)


def test_a_bidirectional_two_layer_lstm_would_leak_the_future():
    """Why ELMo keeps two stacks: in nn.LSTM(bidirectional=True, num_layers=2) the forward half of layer 2
    reads layer 1's backward half, which has read every later word."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(4, 6, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(1, 6, 4)
    y = x.clone()
    y[:, 4:] = torch.randn(1, 2, 4)
    with torch.no_grad():
        fx, fy = lstm(x)[0][..., :6], lstm(y)[0][..., :6]   # the forward direction's outputs
    assert not torch.allclose(fx[:, :4], fy[:, :4])


def test_padding_changes_nothing_in_either_direction(model):
    a = chars(1, 5, seed=4)
    padded = torch.cat([a, torch.zeros(1, 2, CFG.max_chars, dtype=torch.long)], dim=1)
    both = torch.cat([padded, chars(1, 7, seed=5)])
    with torch.no_grad():
        alone = model.layer_outputs(a)                                 # (L+1, 1, 5, 2C)
        batched = model.layer_outputs(both, torch.tensor([5, 7]))      # (L+1, 2, 7, 2C)
    torch.testing.assert_close(batched[:, :1, :5], alone, rtol=0, atol=1e-6)


def test_reverse_flips_each_row_within_its_length():
    x = torch.arange(8).view(2, 4, 1)
    out = reverse(x, torch.tensor([3, 4])).squeeze(-1)
    assert out.tolist() == [[2, 1, 0, 3], [7, 6, 5, 4]]
    assert torch.equal(reverse(x), x.flip(1))


def test_layer_outputs_are_the_token_vectors_then_both_directions(model):
    a = chars(2, 4, seed=6)
    with torch.no_grad():
        out, layers = model.states(a), model.layer_outputs(a)
    assert layers.shape == (CFG.n_layers + 1, 2, 4, 2 * CFG.d_model)
    torch.testing.assert_close(layers[0], torch.cat([out.tokens, out.tokens], -1))
    torch.testing.assert_close(layers[2], torch.cat([out.forward[1], out.backward[1]], -1))


def test_scalar_mix_numbers():
    layers = torch.tensor([1.0, 2.0, 4.0]).view(3, 1, 1, 1).expand(3, 1, 2, 2)
    mix = ScalarMix(3)
    torch.testing.assert_close(mix(layers), torch.full((1, 2, 2), 7 / 3))   # untrained: the plain mean
    with torch.no_grad():
        mix.weights.copy_(torch.tensor([0.0, math.log(2.0), math.log(5.0)]))  # softmax -> 1/8, 2/8, 5/8
        mix.gamma.fill_(2.0)
    torch.testing.assert_close(mix(layers), torch.full((1, 2, 2), 2 * (1 + 4 + 20) / 8))   # 6.25
    mix(layers).sum().backward()   # both the weights and γ learn
    assert mix.weights.grad.abs().sum() > 0 and mix.gamma.grad.item() == pytest.approx(4 * 25 / 8)


@pytest.mark.parametrize("cfg", [CFG, preset("elmo-tiny", vocab_size=300)])
def test_count_parameters_matches_the_built_model(cfg):
    assert count_parameters(cfg) == Elmo(cfg).num_parameters()


def test_the_original_preset_has_the_published_size():
    cfg = preset("original")
    # the token encoder + 4 LSTMs with TensorFlow's one bias each: 93.6M, as AllenNLP states
    assert count_parameters(cfg, softmax=False, lstm_biases=1) == 93_600_848
    assert round(count_parameters(cfg, softmax=False, lstm_biases=1) / 1e5) / 10 == 93.6


def test_config_refuses_bad_shapes():
    with pytest.raises(ValueError, match="proj_size"):
        ElmoConfig(d_model=64, d_hidden=64)
    with pytest.raises(ValueError, match="filters"):
        ElmoConfig(filters=())
    with pytest.raises(ValueError, match="widest filter"):
        ElmoConfig(max_chars=3, filters=((4, 8),))
    assert ElmoConfig(filters=[[1, 4], [2, 8]]).filters == ((1, 4), (2, 8))   # JSON lists become tuples

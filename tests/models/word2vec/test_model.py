"""word2vec's model: the noise sampler, the batched SGD steps (the loss falls), the config's checks."""

import numpy as np
import pytest
import torch

from lmlab.models.word2vec.config import Word2VecConfig
from lmlab.models.word2vec.model import Word2Vec, alias_table, noise_distribution
from lmlab.models.word2vec.presets import count_parameters, multiply_adds_per_pair, preset


def test_alias_table_is_the_distribution_exactly():
    p = noise_distribution([1000, 300, 50, 7, 1, 1])
    accept, alias = alias_table(p.copy())
    implied = accept / len(p)
    for i, a in enumerate(alias):
        implied[a] += (1 - accept[i]) / len(p)
    np.testing.assert_allclose(implied, p, rtol=0, atol=1e-12)


def test_noise_words_follow_unigram_to_three_quarters():
    counts = np.array([400, 100, 25, 1])
    model = Word2Vec(Word2VecConfig(vocab_size=4, dim=2, negative=20))
    model.set_counts(counts)
    rows, labels, weight = model.targets(torch.zeros(20000, dtype=torch.long), torch.Generator().manual_seed(0))
    freq = np.bincount(rows[:, 1:].reshape(-1).numpy(), minlength=4) / rows[:, 1:].numel()
    np.testing.assert_allclose(freq, counts ** 0.75 / (counts ** 0.75).sum(), atol=0.005)  # 400k draws
    assert labels[:, 0].eq(1).all() and labels[:, 1:].eq(0).all()
    assert torch.equal(weight[:, 1:] == 0, rows[:, 1:] == 0)  # a draw of the word itself is skipped


def _toy_pairs(n: int, gen: torch.Generator):
    """Words 0..7 in two groups that co-occur only within the group."""
    a = torch.randint(0, 8, (n,), generator=gen)
    b = (a // 4) * 4 + torch.randint(0, 4, (n,), generator=gen)
    return a, b


@pytest.mark.parametrize("loss", ["neg", "hs"])
def test_skipgram_loss_falls_and_groups_separate(loss):
    gen = torch.Generator().manual_seed(0)
    model = Word2Vec(Word2VecConfig(vocab_size=8, dim=8, loss=loss, negative=3))
    model.set_counts([10] * 8)
    losses = []
    for _ in range(60):
        a, b = _toy_pairs(64, gen)
        c, _ = _toy_pairs(64, gen)
        context = torch.stack([b, (a // 4) * 4 + 1, c], 1)                    # the third column is padding
        mask = torch.tensor([[1.0, 1.0, 0.0]]).expand(64, 3).contiguous()
        before = model.in_emb[c].clone()
        losses.append(model.skipgram_step(context, mask, a, 0.05, gen) / 128)
        untouched = ~torch.isin(c, torch.cat([b, (a // 4) * 4 + 1]))
        assert torch.equal(model.in_emb[c][untouched], before[untouched])
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10])
    unit = torch.nn.functional.normalize(model.in_emb, dim=1)
    sim = unit @ unit.T
    within = (sim[:4, :4].sum() + sim[4:, 4:].sum() - 8) / 24
    across = sim[:4, 4:].mean()
    assert within > across + 0.3


def test_cbow_loss_falls_and_padding_is_ignored():
    gen = torch.Generator().manual_seed(0)
    model = Word2Vec(Word2VecConfig(vocab_size=8, dim=8, arch="cbow"))
    model.set_counts([10] * 8)
    losses = []
    for _ in range(60):
        a, b = _toy_pairs(64, gen)
        c, _ = _toy_pairs(64, gen)
        context = torch.stack([b, (a // 4) * 4 + 1, c], 1)
        mask = torch.tensor([[1.0, 1.0, 0.0]]).expand(64, 3).contiguous()  # the third column is padding
        before = model.in_emb[c].clone()
        losses.append(model.cbow_step(context, mask, a, 0.05, gen) / 64)
        untouched = ~torch.isin(c, torch.cat([b, (a // 4) * 4 + 1]))
        assert torch.equal(model.in_emb[c][untouched], before[untouched])
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10])


def test_start_is_gensims():
    """Input vectors uniform in ±1/dim (gensim 4's prep_vectors; the C tool's ±0.5/dim is narrower), output rows
    zero."""
    torch.manual_seed(0)
    model = Word2Vec(Word2VecConfig(vocab_size=2000, dim=50, loss="hs"))
    x = model.in_emb.numpy() * 50
    assert x.min() >= -1 and x.max() < 1 and x.min() < -0.99 and x.max() > 0.99
    assert abs(x.mean()) < 0.01 and x.std() == pytest.approx(1 / np.sqrt(3), rel=0.01)
    assert not model.out_emb.any()


def test_config_checks_and_counts():
    with pytest.raises(ValueError, match="arch"):
        Word2VecConfig(arch="glove")
    with pytest.raises(ValueError, match="negative"):
        Word2VecConfig(negative=0)
    assert count_parameters(preset("google-news")) == 2 * 3_000_000 * 300
    assert count_parameters(Word2VecConfig(vocab_size=10, dim=4, loss="hs")) == (10 + 9) * 4
    assert multiply_adds_per_pair(Word2VecConfig()) == 3 * 100 * 6

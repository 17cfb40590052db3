"""The word2vec loop: one process or Hogwild workers on shared weights; the loss falls; a time budget stops."""

import numpy as np
import pytest

from lmlab.data.corpora import load_text
from lmlab.data.words import Vocab, WordDataConfig, keep_probabilities, sentences
from lmlab.models.word2vec.config import Word2VecConfig, Word2VecTrainConfig
from lmlab.models.word2vec.model import Word2Vec
from lmlab.train.word2vec import train_word2vec


@pytest.fixture(scope="module")
def corpus():
    sents = sentences(load_text("tinyshakespeare")[:20_000], WordDataConfig())
    vocab = Vocab.build(sents, 2)
    return vocab, *vocab.encode(sents)


@pytest.mark.parametrize("workers", [1, 2])
def test_loss_falls_and_weights_change_in_place(corpus, workers):
    vocab, ids, sid = corpus
    model = Word2Vec(Word2VecConfig(vocab_size=len(vocab.words), dim=16))
    model.set_counts(vocab.counts)
    before = model.in_emb.clone()
    stats = train_word2vec(model, ids, sid, keep_probabilities(vocab.counts, 1e-3),
                           Word2VecTrainConfig(epochs=5, lr=0.1, workers=workers, batch_size=64))
    assert stats.epoch_loss[-1] < stats.epoch_loss[0]
    assert not np.allclose(model.in_emb.numpy(), before.numpy())  # the workers wrote to the shared weights
    assert 0.4 * 5 * len(ids) < stats.words <= 5 * len(ids) and stats.pairs > stats.words


def test_time_budget_stops_early(corpus):
    vocab, ids, sid = corpus
    model = Word2Vec(Word2VecConfig(vocab_size=len(vocab.words), dim=16))
    model.set_counts(vocab.counts)
    stats = train_word2vec(model, ids, sid, keep_probabilities(vocab.counts, 1e-3),
                           Word2VecTrainConfig(epochs=50, workers=1, batch_size=8, time_budget=0.0))
    assert stats.stopped_early and len(stats.epoch_loss) == 1

"""The word2vec loop, both engines: one worker or Hogwild workers on shared weights; the loss falls; related
words end up near; a time budget stops; one numba worker is deterministic by seed."""

import numpy as np
import pytest
import torch

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


@pytest.mark.parametrize("engine,workers", [("numba", 1), ("numba", 2), ("torch", 1), ("torch", 2)])
def test_loss_falls_and_weights_change_in_place(corpus, engine, workers):
    vocab, ids, sid = corpus
    model = Word2Vec(Word2VecConfig(vocab_size=len(vocab.words), dim=16))
    model.set_counts(vocab.counts)
    before = model.in_emb.clone()
    stats = train_word2vec(model, ids, sid, keep_probabilities(vocab.counts, 1e-3),
                           Word2VecTrainConfig(epochs=5, lr=0.1, workers=workers, batch_size=64, engine=engine))
    assert stats.epoch_loss[-1] < stats.epoch_loss[0], stats.epoch_loss
    assert not np.allclose(model.in_emb.numpy(), before.numpy())  # the workers wrote to the shared weights
    assert 0.4 * 5 * len(ids) < stats.words <= 5 * len(ids) and stats.pairs > stats.words


@pytest.mark.parametrize("engine", ["numba", "torch"])
def test_time_budget_stops_early(corpus, engine):
    vocab, ids, sid = corpus
    model = Word2Vec(Word2VecConfig(vocab_size=len(vocab.words), dim=16))
    model.set_counts(vocab.counts)
    stats = train_word2vec(model, ids, sid, keep_probabilities(vocab.counts, 1e-3),
                           Word2VecTrainConfig(epochs=50, workers=1, batch_size=8, time_budget=0.0, engine=engine))
    assert stats.stopped_early and len(stats.epoch_loss) == 1


def _two_topics(n_sentences: int, seed: int = 0):
    """Sentences of 8 words drawn from one of two disjoint sets of 10 words: ids (N,), sentence numbers (N,)."""
    rng = np.random.default_rng(seed)
    topic = rng.integers(0, 2, n_sentences)
    ids = (topic[:, None] * 10 + rng.integers(0, 10, (n_sentences, 8))).reshape(-1)
    return ids, np.repeat(np.arange(n_sentences), 8)


@pytest.mark.parametrize("arch,loss", [("skipgram", "neg"), ("cbow", "neg"), ("skipgram", "hs"), ("cbow", "hs")])
def test_hogwild_threads_separate_two_topics(arch, loss):
    """Two numba threads on shared weights: words of the same topic end up nearer than words of the other."""
    ids, sid = _two_topics(3000)
    model = Word2Vec(Word2VecConfig(vocab_size=20, dim=16, arch=arch, loss=loss, window=3))
    model.set_counts(np.bincount(ids, minlength=20))
    # lr 0.01: at 0.05 skip-gram hs reaches the floor (ln 10) within the first epoch, and "falls" became noise
    stats = train_word2vec(model, ids, sid, np.ones(20), Word2VecTrainConfig(epochs=3, lr=0.01, workers=2))
    assert stats.epoch_loss[-1] < stats.epoch_loss[0] - 0.02
    unit = torch.nn.functional.normalize(model.in_emb, dim=1)
    sim = unit @ unit.T
    within = (sim[:10, :10].sum() + sim[10:, 10:].sum() - 20) / 180
    assert within > sim[:10, 10:].mean() + 0.5, (within, sim[:10, 10:].mean())


def test_one_numba_worker_is_deterministic_by_seed(corpus):
    vocab, ids, sid = corpus
    vectors = []
    for seed in (1, 1, 2):
        torch.manual_seed(0)
        model = Word2Vec(Word2VecConfig(vocab_size=len(vocab.words), dim=8))
        model.set_counts(vocab.counts)
        train_word2vec(model, ids, sid, keep_probabilities(vocab.counts, 1e-3),
                       Word2VecTrainConfig(epochs=1, workers=1, seed=seed))
        vectors.append(model.in_emb.numpy().copy())
    assert np.array_equal(vectors[0], vectors[1]) and not np.array_equal(vectors[0], vectors[2])


def test_a_state_continues_mid_epoch_exactly():
    """Stopped by the clock after its first job (of 3 an epoch), continued from stats.state: the same weights
    and epoch losses as 2 epochs in one go (one thread)."""
    ids, sid = _two_topics(3000)  # 24,000 words: 3 jobs
    runs = []
    for budget in (None, 0.0):
        torch.manual_seed(0)
        model = Word2Vec(Word2VecConfig(vocab_size=20, dim=8, window=3))
        model.set_counts(np.bincount(ids, minlength=20))
        cfg = Word2VecTrainConfig(epochs=2, workers=1, time_budget=budget)
        stats = train_word2vec(model, ids, sid, np.ones(20), cfg)
        if budget is not None:
            assert stats.stopped_early and (stats.state["epoch"], stats.state["job"]) == (0, 1)
            stats = train_word2vec(model, ids, sid, np.ones(20), Word2VecTrainConfig(epochs=2, workers=1),
                                   state=stats.state)
        runs.append((model.in_emb.numpy().copy(), stats.epoch_loss))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1] and len(runs[0][1]) == 2


@pytest.mark.parametrize("engine", ["numba", "torch"])
def test_rate_decays_linearly_in_the_words_done(engine, monkeypatch):
    """The rate of each job (numba) or batch (torch) is lr − (lr − min_lr) · words done / (epochs · N): a straight
    line from lr at the first word towards min_lr at the last, over all epochs (one worker, no sub-sampling)."""
    import lmlab.models.word2vec.kernel as kernel
    ids, sid = _two_topics(3000)  # 24,000 words: 3 numba jobs an epoch
    cfg = Word2VecTrainConfig(epochs=2, lr=0.04, min_lr=0.001, workers=1, batch_size=4000, engine=engine)
    seen = []                     # (words done before the call, its rate)
    if engine == "numba":
        real = kernel.train_job

        def spy(*args):
            bounds, lr = args[3], args[-2]                    # the job's sentence bounds into the corpus; its rate
            seen.append((sum(spy.words), lr))
            spy.words.append(int(bounds[-1] - bounds[0]))
            return real(*args)
        spy.words = []
        monkeypatch.setattr(kernel, "train_job", spy)
    else:
        real = Word2Vec.skipgram_step

        def spy(self, context, mask, target, lr, gen):
            seen.append((len(seen) * cfg.batch_size, lr))     # keep = 1: every batch is batch_size words
            return real(self, context, mask, target, lr, gen)
        monkeypatch.setattr(Word2Vec, "skipgram_step", spy)
    model = Word2Vec(Word2VecConfig(vocab_size=20, dim=8, window=3))
    model.set_counts(np.bincount(ids, minlength=20))
    train_word2vec(model, ids, sid, np.ones(20), cfg)
    done, lrs = np.array(seen, dtype=np.float64).T
    assert len(lrs) == (6 if engine == "numba" else 12) and lrs[0] == pytest.approx(0.04)
    np.testing.assert_allclose(lrs, 0.04 - (0.04 - 0.001) * done / (2 * len(ids)), rtol=0, atol=1e-12)
    assert np.all(np.diff(lrs) < 0) and lrs[-1] > 0.001

"""word2vec's numba kernel against the batched torch update (the reference): one example, skip-gram pairs in
the C tool's order, a CBOW window; its noise draws, sub-sampling and generator.

Tolerance: 1e-6 absolute on float32 weights of size ~0.1 (the kernel's dot sums in another order); with weights
of size ~1 (so that many rows score |v·h| >= 6 and are skipped), 1e-5."""

import numpy as np
import pytest
import torch

from lmlab.models.word2vec.config import MAX_EXP, Word2VecConfig
from lmlab.models.word2vec.kernel import draw_targets, sgd_example, train_job
from lmlab.models.word2vec.model import Word2Vec
from lmlab.train.word2vec import kernel_tables

V, C = 12, 16


def _model(loss: str, arch: str = "skipgram", window: int = 5, std: float = 0.3) -> Word2Vec:
    """Weights of `std` (not the zero start, so that every term of the step is exercised); std 1 makes about a
    fifth of the skip-gram scores saturate (|v·h| >= MAX_EXP)."""
    torch.manual_seed(0)
    model = Word2Vec(Word2VecConfig(vocab_size=V, dim=C, loss=loss, arch=arch, negative=4, window=window))
    model.set_counts(np.arange(V, 0, -1) * 10)
    model.out_emb.data.normal_(0, std)
    model.in_emb.data.normal_(0, std)
    return model


SCALES = [(0.3, 1e-6), (1.0, 1e-5)]  # weight std, tolerance


@pytest.mark.parametrize("std,tol", SCALES)
@pytest.mark.parametrize("loss", ["neg", "hs"])
def test_one_example_equals_the_torch_update(loss, std, tol):
    """One input vector against the word's rows (given noise words, or its Huffman path): the same moved rows,
    input step and loss as Word2Vec.update_output."""
    model = _model(loss, std=std)
    word, lr = 3, 0.2
    if loss == "neg":
        rows, labels = torch.tensor([[word, 7, 0, 11, 5]]), torch.tensor([[1.0, 0, 0, 0, 0]])
    else:
        depth = int(model.mask[word].sum())
        rows, labels = model.points[word, :depth][None], model.labels[word, :depth][None]
    h = model.in_emb[5].clone()
    out = model.out_emb.numpy().copy()
    work = np.zeros(C, np.float32)
    loss_k = sgd_example(h.numpy(), out, rows[0].numpy(), labels[0].numpy(), rows.shape[1], np.float32(lr), work)
    step_h, loss_t = model.update_output(h[None], rows, labels, torch.ones_like(labels), lr)
    np.testing.assert_allclose(out, model.out_emb.numpy(), rtol=0, atol=tol)
    np.testing.assert_allclose(work, step_h[0].numpy(), rtol=0, atol=tol)
    assert loss_k == pytest.approx(loss_t, rel=1e-5)
    assert not np.allclose(out, _model(loss, std=std).out_emb.numpy())  # some rows did move


def test_a_saturated_row_is_left_alone():
    """A row scoring |v·h| >= MAX_EXP (6) neither moves nor adds to h's step (gensim, the C tool); in the kernel
    and in the torch update alike. Rows: 0 scores +8 (label 0: as wrong as can be), 1 scores -7 (label 1),
    2 scores 0.5 and is the only one to act."""
    h = np.zeros(C, np.float32)
    h[0] = 1.0
    out = np.zeros((3, C), np.float32)
    out[:, 0], out[:, 1] = [8.0, -7.0, 0.5], 1.0
    rows, labels, lr = np.array([0, 1, 2]), np.array([0.0, 1.0, 1.0], np.float32), 0.1
    g = lr * (1.0 - 1.0 / (1.0 + np.exp(-0.5)))
    want_out, want_step = out.copy(), g * out[2]
    want_out[2] += g * h
    work = np.zeros(C, np.float32)
    kernel_out = out.copy()
    sgd_example(h, kernel_out, rows, labels, 3, np.float32(lr), work)
    np.testing.assert_allclose(kernel_out, want_out, rtol=0, atol=1e-7)
    np.testing.assert_allclose(work, want_step, rtol=0, atol=1e-7)
    model = Word2Vec(Word2VecConfig(vocab_size=3, dim=C, loss="neg"))
    model.out_emb.data = torch.from_numpy(out.copy())
    step_h, _ = model.update_output(torch.from_numpy(h)[None], torch.from_numpy(rows)[None],
                                    torch.from_numpy(labels)[None], torch.ones(1, 3), lr)
    np.testing.assert_allclose(model.out_emb.numpy(), want_out, rtol=0, atol=1e-7)
    np.testing.assert_allclose(step_h[0].numpy(), want_step, rtol=0, atol=1e-7)
    assert MAX_EXP == 6.0


def _job(model: Word2Vec, sentence, lr: float, shrink: bool = False):
    """train_job on one sentence, nothing sub-sampled; returns (words, examples, loss)."""
    inputs, outputs = model.in_emb.data.numpy(), model.out_emb.data.numpy()
    ids = np.array(sentence, np.int64)
    return train_job(inputs, outputs, ids, np.array([0, len(ids)]), np.ones(V), model.cfg.arch == "skipgram",
                     model.cfg.window, shrink, *kernel_tables(model), model.cfg.negative, lr,
                     np.array([7], np.uint64))


@pytest.mark.parametrize("std,tol", SCALES)
def test_skipgram_pairs_in_the_c_tools_order(std, tol):
    """Hierarchical softmax draws nothing at random: a sentence with window 2 is exactly the sequence of pairs
    (centre i; context j = i-2..i+2 inside the sentence), context j's vector predicting centre i, each pair a
    torch update of its own."""
    sentence, lr = [4, 1, 9, 1, 6], 0.1
    kernel, ref = _model("hs", window=2, std=std), _model("hs", window=2, std=std)
    words, examples, loss = _job(kernel, sentence, lr)
    total = 0.0
    for i in range(len(sentence)):
        for j in range(max(i - 2, 0), min(i + 3, len(sentence))):
            if j == i:
                continue
            word = torch.tensor([sentence[i]])
            rows, labels, weight = ref.targets(word)
            step_h, loss_t = ref.update_output(ref.in_emb[sentence[j]][None].clone(), rows, labels, weight, lr)
            ref.in_emb[sentence[j]] += step_h[0]
            total += loss_t
    assert (words, examples) == (5, 14)
    assert loss == pytest.approx(total, rel=1e-5)
    np.testing.assert_allclose(kernel.in_emb.numpy(), ref.in_emb.numpy(), rtol=0, atol=tol)
    np.testing.assert_allclose(kernel.out_emb.numpy(), ref.out_emb.numpy(), rtol=0, atol=tol)


@pytest.mark.parametrize("std,tol", SCALES)
def test_cbow_window_equals_the_torch_step(std, tol):
    """CBOW on a 3-word sentence, window 1: the middle word's example is cbow_step's (the mean of both
    neighbours predicts it; each neighbour gets the whole step); the end words have one neighbour each."""
    sentence, lr = [2, 8, 5], 0.1
    kernel, ref = _model("hs", "cbow", window=1, std=std), _model("hs", "cbow", window=1, std=std)
    words, examples, loss = _job(kernel, sentence, lr)
    windows = [([8], 2), ([2, 5], 8), ([8], 5)]
    total = sum(ref.cbow_step(torch.tensor([ctx]), torch.ones(1, len(ctx)), torch.tensor([w]), lr)
                for ctx, w in windows)
    assert (words, examples) == (3, 3)
    assert loss == pytest.approx(total, rel=1e-5)
    np.testing.assert_allclose(kernel.in_emb.numpy(), ref.in_emb.numpy(), rtol=0, atol=tol)
    np.testing.assert_allclose(kernel.out_emb.numpy(), ref.out_emb.numpy(), rtol=0, atol=tol)


def test_noise_draws_follow_unigram_to_three_quarters():
    counts = np.array([400, 100, 25, 1, 60])
    model = Word2Vec(Word2VecConfig(vocab_size=5, dim=2, negative=50))
    model.set_counts(counts)
    points, path_labels, depth, accept, alias = kernel_tables(model)
    rows, labels, state = np.empty(51, np.int64), np.empty(51, np.float32), np.array([3], np.uint64)
    drawn = []
    for _ in range(4000):  # 200k draws for word 3: its own draws are skipped
        n = draw_targets(3, points, path_labels, depth, accept, alias, 50, state, rows, labels)
        assert rows[0] == 3 and labels[0] == 1 and not labels[1:n].any()
        drawn.append(rows[1:n].copy())
    drawn = np.concatenate(drawn)
    p = counts ** 0.75 / (counts ** 0.75).sum()
    assert (drawn != 3).all() and len(drawn) == pytest.approx(200_000 * (1 - p[3]), rel=0.01)
    p[3] = 0
    np.testing.assert_allclose(np.bincount(drawn, minlength=5) / len(drawn), p / p.sum(), atol=0.004)


def test_subsampling_keeps_words_at_their_rate():
    model = _model("neg")
    ids = np.tile(np.arange(V), 5000)
    keep = np.linspace(0.05, 1.0, V)
    got = train_job(model.in_emb.data.numpy(), model.out_emb.data.numpy(), ids, np.array([0, len(ids)]), keep,
                    True, 1, True, *kernel_tables(model), 4, 0.0, np.array([11], np.uint64))
    assert got[0] == pytest.approx(5000 * keep.sum(), rel=0.01)

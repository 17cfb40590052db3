"""The Huffman tree of hierarchical softmax: codes checked by hand, and a proper distribution."""

import numpy as np
import torch

from lmlab.models.word2vec.huffman import huffman_codes, padded


def test_codes_of_a_small_vocabulary_by_hand():
    # counts 5, 3, 2, 1: merge (1, 2) -> inner node 0 (count 3); merge word 1 (3) with it -> node 1 (6);
    # merge word 0 (5) with that -> node 2, the root. The first popped of each merge takes bit 0.
    codes, points = huffman_codes([5, 3, 2, 1])
    assert codes == [[0], [1, 0], [1, 1, 1], [1, 1, 0]]
    assert points == [[2], [2, 1], [2, 1, 0], [2, 1, 0]]


def test_frequent_words_get_short_codes_and_codes_are_prefix_free():
    counts = [100, 60, 30, 20, 10, 6, 5, 1]
    codes, _ = huffman_codes(counts)
    lengths = [len(c) for c in codes]
    assert lengths == sorted(lengths)
    strings = ["".join(map(str, c)) for c in codes]
    assert not any(a != b and b.startswith(a) for a in strings for b in strings)
    # Kraft equality of a full binary tree
    assert sum(2.0 ** -n for n in lengths) == 1.0


def test_path_probabilities_sum_to_one():
    """p(w|h) = prod over the path of sigmoid(+-v.h) is a distribution over the vocabulary."""
    counts = [50, 20, 9, 7, 3, 2, 1]
    pts, cds, mask = (torch.from_numpy(a) for a in padded(*huffman_codes(counts)))
    nodes, h = torch.randn(len(counts) - 1, 4), torch.randn(4)
    score = nodes[pts] @ h                                                 # (V, L)
    step = torch.sigmoid(torch.where(cds > 0, -score, score))              # bit 0: sigmoid(v.h)
    p = torch.where(mask > 0, step, torch.ones_like(step)).prod(1)
    assert abs(p.sum().item() - 1.0) < 1e-5
    assert np.isclose(p.sum().item(), 1.0)

"""The Huffman tree of hierarchical softmax (Morin & Bengio 2005; Mikolov et al. 2013a, §3).

Each word is a leaf; p(word | h) is the product, along the path from the root, of sigmoid(±v_node·h),
the sign given by the branch (code bit) taken. Frequent words get short paths, so the cost per word
is about log2 of its inverse frequency instead of the vocabulary size. Built as gensim builds it, so that the codes are
the same: repeatedly merge the two least frequent nodes of a heap that compares counts only (ties go
as heapq leaves them), the first popped becomes the 0-branch, inner nodes are numbered 0..V-2 in
order of creation, so the root is V-2.
"""

from __future__ import annotations

import heapq

import numpy as np


class _Node(tuple):
    """(count, index); ordered by count alone, as gensim's Heapitem."""

    def __lt__(self, other):
        return self[0] < other[0]


def huffman_codes(counts) -> tuple[list[list[int]], list[list[int]]]:
    """For word i (counts in any order): its code bits from the root, and the inner nodes on the way."""
    counts = [int(c) for c in counts]
    v = len(counts)
    if v < 2:
        return [[0] for _ in range(v)], [[0] for _ in range(v)]  # one word: one (useless) inner node
    heap = [_Node((c, i)) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    children: dict[int, tuple[int, int]] = {}
    for node in range(v, 2 * v - 1):
        (c0, a), (c1, b) = heapq.heappop(heap), heapq.heappop(heap)
        children[node] = (a, b)
        heapq.heappush(heap, _Node((c0 + c1, node)))
    codes: list[list[int]] = [[] for _ in range(v)]
    points: list[list[int]] = [[] for _ in range(v)]
    stack = [(2 * v - 2, [], [])]
    while stack:
        node, code, path = stack.pop()
        if node < v:
            codes[node], points[node] = code, path
            continue
        left, right = children[node]
        stack.append((left, code + [0], path + [node - v]))
        stack.append((right, code + [1], path + [node - v]))
    return codes, points


def padded(codes: list[list[int]], points: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paths as arrays (V, L) for batched lookups: points, codes and a mask of the real steps."""
    depth = max(len(c) for c in codes)
    pts = np.zeros((len(codes), depth), dtype=np.int64)
    cds = np.zeros((len(codes), depth), dtype=np.float32)
    mask = np.zeros((len(codes), depth), dtype=np.float32)
    for i, (c, p) in enumerate(zip(codes, points, strict=True)):
        pts[i, :len(p)], cds[i, :len(c)], mask[i, :len(c)] = p, c, 1.0
    return pts, cds, mask

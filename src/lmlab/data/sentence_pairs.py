"""Sentence-pair examples for BERT-style pretraining: NSP, SOP, or none (RoBERTa's full sentences).

References:
- NSP: Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional Transformers", §3.1 (Task #2)
  and Google's `create_pretraining_data.py`;
- SOP: Lan et al. 2020, "ALBERT: A Lite BERT for Self-supervised Learning of Language
  Representations", §3.1 (inter-sentence coherence loss);
- none: Liu et al. 2019, "RoBERTa: A Robustly Optimized BERT Pretraining Approach", §4.2
  (FULL-SENTENCES: no pair objective, inputs packed with whole sentences, possibly across documents).

Input: `documents`, a list of documents, each a list of segments, each a list of token ids (without
[CLS]/[SEP]). A "segment" is whatever the caller chooses: a sentence, a line, or several sentences
packed together (BERT's "sentences" are arbitrary spans of contiguous text, not linguistic ones).

Output: a list of examples (dicts) laid out as

    input_ids       [CLS] A ... A [SEP] B ... B [SEP]
    token_type_ids    0   0 ... 0   0   1 ... 1   1

with `index` (position in the list, for static masking), `a_from` / `b_from` ((document, segment)
provenance, for inspection and tests) and the pair label:

- NSP, `next_sentence_label`: 0 = IsNext (B is the segment that follows A in its document),
  1 = NotNext (B is a random segment of a *different* document). This is Hugging Face's convention
  (BertForPreTraining: "0 indicates sequence B is a continuation of sequence A"), and Google's
  (`is_random_next`). 50 % / 50 %.
- SOP, `sentence_order_label`: A and B are always two consecutive segments of one document;
  0 = in order, 1 = swapped (AlbertForPreTraining's convention: "0 indicates original order").
  50 % / 50 %. Why SOP: a NotNext pair in NSP comes from another document, so the model can solve
  NSP by spotting a change of *topic*; SOP keeps the topic fixed and asks only about *order*.
- none: one segment id (all 0), no label; consecutive segments are packed up to `max_len`, documents
  separated by an extra [SEP] as RoBERTa does.

Truncation: a pair longer than `max_len` loses tokens from the longer side first (as Google's
`truncate_seq_pair`), A from its front and B from its back, so the text around the A|B boundary —
the evidence for NSP/SOP — survives. (Google trims the front or the back at random.)
Everything is deterministic given `seed`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from lmlab.errors import LmlabError

TASKS = ("nsp", "sop", "none")
LABEL_KEY = {"nsp": "next_sentence_label", "sop": "sentence_order_label"}


def truncate_pair(a: Sequence[int], b: Sequence[int], max_tokens: int) -> tuple[list[int], list[int]]:
    """Shorten the longer of a/b one token at a time until len(a) + len(b) <= max_tokens (A loses its
    first tokens, B its last; on a tie B gives)."""
    n_a, n_b = len(a), len(b)
    while n_a + n_b > max_tokens:
        if n_a > n_b:
            n_a -= 1
        else:
            n_b -= 1
    return list(a[len(a) - n_a:]), list(b[:n_b])


def pair_example(a: Sequence[int], b: Sequence[int], cls_id: int, sep_id: int, max_len: int) -> dict:
    """[CLS] A [SEP] B [SEP] with segment ids 0...0 1...1, at most `max_len` tokens."""
    a, b = truncate_pair(a, b, max_len - 3)
    return {"input_ids": [cls_id, *a, sep_id, *b, sep_id],
            "token_type_ids": [0] * (len(a) + 2) + [1] * (len(b) + 1)}


def make_pretraining_examples(documents: Sequence[Sequence[Sequence[int]]], task: str, max_len: int,
                              cls_id: int, sep_id: int, seed: int = 0) -> list[dict]:
    """Examples for `task` ("nsp", "sop" or "none") from `documents`; see the module docstring."""
    if task not in TASKS:
        raise LmlabError(f"sentence-pair task {task!r} is unknown; choose one of {TASKS}")
    if max_len < 5:
        raise LmlabError(f"max_len {max_len} leaves no room for [CLS] A [SEP] B [SEP]; use at least 5")
    # empty segments are skipped ("consecutive" means consecutive among the non-empty ones);
    # provenance keeps the caller's (document, segment) indices
    docs = [(d, [(i, list(s)) for i, s in enumerate(doc) if len(s)]) for d, doc in enumerate(documents)]
    docs = [(d, segs) for d, segs in docs if segs]
    rng = random.Random(seed)
    if task == "none":
        examples = _full_sentences(docs, max_len, cls_id, sep_id)
    else:
        if task == "nsp" and len(docs) < 2:
            raise LmlabError("NSP draws NotNext segments from another document; give at least two documents")
        examples = []
        for k, (d, segs) in enumerate(docs):
            for (i, a), (i_next, b) in zip(segs[:-1], segs[1:]):
                a_from, b_from = (d, i), (d, i_next)
                label = int(rng.random() < 0.5)
                if label and task == "nsp":  # NotNext: a random segment of another document
                    other = rng.randrange(len(docs) - 1)
                    other += other >= k
                    d_b, segs_b = docs[other]
                    j, b = segs_b[rng.randrange(len(segs_b))]
                    b_from = (d_b, j)
                elif label:                  # SOP, swapped
                    a, b, a_from, b_from = b, a, b_from, a_from
                ex = pair_example(a, b, cls_id, sep_id, max_len)
                ex.update({LABEL_KEY[task]: label, "a_from": a_from, "b_from": b_from})
                examples.append(ex)
    for i, ex in enumerate(examples):
        ex["index"] = i
    return examples


def _full_sentences(docs, max_len: int, cls_id: int, sep_id: int) -> list[dict]:
    """RoBERTa's FULL-SENTENCES: whole segments packed contiguously, across documents (with an extra
    [SEP] between documents), into [CLS] ... [SEP] of at most `max_len` tokens. A segment longer than
    the room is cut and fills an example of its own."""
    room = max_len - 2
    examples, body = [], []

    def flush():
        if body:
            ids = [cls_id, *body, sep_id]
            examples.append({"input_ids": ids, "token_type_ids": [0] * len(ids)})
            body.clear()

    for k, (_, segs) in enumerate(docs):
        for n, (_, seg) in enumerate(segs):
            piece = ([sep_id] if k > 0 and n == 0 and body else []) + seg
            if len(body) + len(piece) > room:
                flush()
                piece = seg
            body.extend(piece[:room])
    flush()
    return examples

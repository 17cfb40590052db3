"""Contextual word vectors: one vector per word of a text, from an ELMo or a BERT run (`lmlab embed --tokens`).

A family registers its function as `Family.token_vectors`; each takes a run folder and texts and returns a
`WordVectors` (the words as the model splits them, and their vectors (n_words, C)) per text.
- ELMo (Peters et al. 2018): words by lmlab.data.word_chars' rule; a word's vector is the ScalarMix of its L+1
  layer representations. Without a downstream task to learn the mix, its starting point is used: equal
  weights and γ = 1, the mean of [x; x] and the L biLM layers (or one layer, `layer=j`; -1 the top).
- BERT (Devlin et al. 2019): `[CLS] text [SEP]` through the encoder; a word's vector is the mean of its
  WordPiece vectors of the final layer (a word split "ban ##k" gets one vector); [CLS] and [SEP] are no words.
  `layer=-1` (the top layer) is the one choice every family takes.
`random_weights=True` builds the same model with fresh (seeded) weights: the baseline any claim about what
training taught must beat, since even a random contextual model gives two occurrences different vectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch

from lmlab.data.tokenizers import CONTINUATION
from lmlab.data.word_chars import char_tensor, split_words
from lmlab.errors import LmlabError
from lmlab.models.elmo.model import ScalarMix
from lmlab.runs.hf import load_bert_encoder
from lmlab.runs.run import Run


class WordVectors(NamedTuple):
    words: list[str]
    vectors: torch.Tensor       # (n_words, C) float32, on the CPU


def _check(texts: list[str], batch_size: int) -> None:
    if not texts:
        raise LmlabError("no texts to embed; give some text (or a non-empty --input file)")
    if batch_size <= 0:
        raise LmlabError(f"--batch-size must be positive, got {batch_size}")


@torch.inference_mode()
def elmo_vectors(model, texts: list[str], lowercase: bool = False, layer: int | None = None,
                 batch_size: int = 32) -> list[WordVectors]:
    """Each text's words and their ELMo vectors (B texts at a time, right-padded; padding changes nothing)."""
    _check(texts, batch_size)
    n_layers = model.cfg.n_layers + 1
    if layer is not None and not -n_layers <= layer < n_layers:
        raise LmlabError(f"layer must be between 0 (the token vectors) and {n_layers - 1} (or -1, the top), "
                         f"got {layer}")
    model.eval()
    device = next(model.parameters()).device
    mix = ScalarMix(n_layers).to(device)
    sentences = [split_words(t, lowercase) for t in texts]
    empty = [i + 1 for i, s in enumerate(sentences) if not s]
    if empty:
        raise LmlabError(f"text {empty[0]} has no words to embed")
    out: list[WordVectors] = []
    for start in range(0, len(sentences), batch_size):
        batch = sentences[start:start + batch_size]
        chars, lengths = char_tensor(batch, model.cfg.max_chars)
        layers = model.layer_outputs(chars.to(device), lengths.to(device))      # (L+1, B, T, 2C)
        vectors = mix(layers) if layer is None else layers[layer]               # (B, T, 2C)
        out += [WordVectors(words, vectors[b, :len(words)].float().cpu()) for b, words in enumerate(batch)]
    return out


def elmo_word_vectors(path: str | Path, texts: list[str], *, device: str | torch.device = "cpu",
                      batch_size: int = 32, max_len: int | None = None, random_weights: bool = False,
                      layer: int | None = None, seed: int = 0) -> list[WordVectors]:
    """An ELMo run's word vectors (max_len is not used: the LSTMs read any length)."""
    run = Run.open(path, family="elmo")
    torch.manual_seed(seed)
    model = run.build() if random_weights else run.model()
    return elmo_vectors(model.to(device), texts, run.config("data").lowercase, layer, batch_size)


@torch.inference_mode()
def bert_vectors(encoder, tok, texts: list[str], max_len: int | None = None,
                 batch_size: int = 32) -> list[WordVectors]:
    """Each text's words (as BERT's pre-tokenizer splits them) and the mean of each word's WordPiece vectors."""
    _check(texts, batch_size)
    limit = encoder.cfg.max_seq_len
    max_len = limit if max_len is None else max_len
    if not 3 <= max_len <= limit:
        raise LmlabError(f"--max-len must be between 3 and the model's max_seq_len ({limit}), got {max_len}")
    encoder.eval()
    device = next(encoder.parameters()).device
    ids = [tok.encode_pair(t, max_len=max_len)["input_ids"] for t in texts]
    out: list[WordVectors] = []
    for start in range(0, len(ids), batch_size):
        rows = ids[start:start + batch_size]
        T = max(len(r) for r in rows)
        input_ids = torch.tensor([r + [0] * (T - len(r)) for r in rows], device=device)
        mask = torch.tensor([[1] * len(r) + [0] * (T - len(r)) for r in rows], device=device)
        hidden = encoder(input_ids, torch.zeros_like(input_ids), mask).hidden.float().cpu()   # (B, T, C)
        for b, row in enumerate(rows):
            word_of = tok.word_ids(row)                      # token -> word index, None for [CLS]/[SEP]
            n = max((w for w in word_of if w is not None), default=-1) + 1
            if n == 0:
                raise LmlabError(f"text {start + b + 1} has no words to embed")
            pieces = tok.tokens(row)
            words = [""] * n
            index = torch.tensor([-1 if w is None else w for w in word_of])
            for w, piece in zip(word_of, pieces):
                if w is not None:
                    words[w] += piece.removeprefix(CONTINUATION)
            keep = index >= 0
            sums = torch.zeros(n, hidden.shape[-1]).index_add_(0, index[keep], hidden[b, :len(row)][keep])
            counts = torch.bincount(index[keep], minlength=n).unsqueeze(1)
            out.append(WordVectors(words, sums / counts))
    return out


def bert_word_vectors(path: str | Path, texts: list[str], *, device: str | torch.device = "cpu",
                      batch_size: int = 32, max_len: int | None = None, random_weights: bool = False,
                      layer: int | None = None, seed: int = 0) -> list[WordVectors]:
    """A BERT run's (or Hugging Face BERT folder's) word vectors, from the final layer."""
    if layer not in (None, -1):
        raise LmlabError("a BERT's word vectors come from its final layer (--layer -1); --layer N is for ELMo runs")
    encoder, tok = load_bert_encoder(path)
    if random_weights:
        torch.manual_seed(seed)
        encoder = type(encoder)(encoder.cfg)
    return bert_vectors(encoder.to(device), tok, texts, max_len, batch_size)

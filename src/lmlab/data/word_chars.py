"""Word-level language-model data for ELMo (Peters et al. 2018): words, their characters, a softmax vocabulary.

ELMo reads a word from its characters (so any word, seen or not, gets a vector) and predicts words from a
vocabulary (the most frequent `max_vocab - 1` words of the training text, the rest `<unk>`). Text is split
into words by one rule, `split_words`: runs of letters/digits (with inner apostrophes: "don't", "o'er") and
single punctuation marks; every non-empty line ends with the sentence mark `</S>`. A word's characters are
its UTF-8 bytes (so Chinese works too) between begin- and end-of-word marks, cut or padded to max_chars.
Training batches are random windows of the corpus (lmlab.data.lm.RandomWindows, resumable): the T middle
words of a (T+2)-word window are read, and each is the target of the forward LM at t-1 and of the backward
LM at t+1.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from lmlab.data.lm import RandomWindows, split_tokens
from lmlab.errors import LmlabError

WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
EOS, UNK = "</S>", "<unk>"
PAD, BOW, EOW = 0, 257, 258          # character ids: padding, begin and end of word; byte b is b + 1
SENTENCE_CHARS = {EOS: 260}          # `</S>` is one character of its own (259 is kept for `<S>`)


@dataclass(frozen=True)
class WordDataConfig:
    max_vocab: int = 20000          # softmax words: the most frequent max_vocab - 1 training words, plus <unk>
    lowercase: bool = False         # fold case before splitting (the paper keeps case)
    val_fraction: float = 0.1       # the last 10% of the words is the validation split

    def __post_init__(self):
        if self.max_vocab < 2:
            raise ValueError(f"max_vocab must be ≥ 2 (<unk> and one word), got {self.max_vocab}")
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5), got {self.val_fraction}")


def split_words(text: str, lowercase: bool = False) -> list[str]:
    """The words of one sentence or line, by the rule above (no `</S>`)."""
    return WORD.findall(text.lower() if lowercase else text)


def corpus_words(text: str, lowercase: bool = False) -> list[str]:
    """Every word of a text, each non-empty line closed by `</S>`."""
    words: list[str] = []
    for line in text.splitlines():
        line_words = split_words(line, lowercase)
        if line_words:
            words += line_words + [EOS]
    return words


def char_ids(word: str, max_chars: int) -> list[int]:
    """[BOW, byte+1, …, EOW, PAD, …] of length max_chars; a long word keeps its first max_chars - 2 bytes."""
    if word in SENTENCE_CHARS:
        inner = [SENTENCE_CHARS[word]]
    else:
        inner = [b + 1 for b in word.encode("utf-8")[:max_chars - 2]]
    ids = [BOW, *inner, EOW]
    return ids + [PAD] * (max_chars - len(ids))


def char_tensor(sentences: list[list[str]], max_chars: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded characters (B, T, W) of word lists, and their lengths (B,)."""
    T = max(1, max(len(s) for s in sentences))
    out = torch.zeros(len(sentences), T, max_chars, dtype=torch.long)
    for b, words in enumerate(sentences):
        if words:
            out[b, :len(words)] = torch.tensor([char_ids(w, max_chars) for w in words])
    return out, torch.tensor([len(s) for s in sentences])


def build_vocab(words: list[str], max_vocab: int) -> list[str]:
    """<unk>, then the most frequent words (ties: alphabetical), max_vocab in all."""
    counts = Counter(words)
    counts.pop(UNK, None)
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    return [UNK, *ranked[:max_vocab - 1]]


def load_vocab(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise LmlabError(f"{path} not found: an ELMo run keeps its softmax vocabulary there")
    vocab = path.read_text(encoding="utf-8").split("\n")[:-1]
    if not vocab or vocab[0] != UNK:
        raise LmlabError(f"{path}:1: an ELMo vocabulary starts with {UNK}; the file is damaged")
    return vocab


class WordWindows:
    """An endless, resumable source of ELMo batches: chars (B, T, W), input_ids (B, T) (the words' softmax
    ids), next (B, T) and prev (B, T) (the forward and backward LMs' targets)."""

    def __init__(self, type_ids: torch.Tensor, type_chars: torch.Tensor, type_word: torch.Tensor, seq_len: int,
                 batch_size: int, seed: int, name: str = "train"):
        self.windows = RandomWindows(type_ids, seq_len + 1, batch_size, seed, name=name)
        self.type_chars, self.type_word = type_chars, type_word

    def next(self) -> dict[str, torch.Tensor]:
        raw = self.windows.next()
        types = torch.cat([raw["input_ids"][:, :1], raw["labels"]], dim=1)   # (B, T+2) the whole window
        words = self.type_word[types]
        return {"chars": self.type_chars[types[:, 1:-1]].long(), "input_ids": words[:, 1:-1],
                "next": words[:, 2:], "prev": words[:, :-2]}

    def state_dict(self) -> dict:
        return self.windows.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.windows.load_state_dict(state)


class WordCorpus:
    """A text as a stream of word types, each type's characters and softmax id, split into train and
    validation (the last val_fraction of the words)."""

    def __init__(self, text: str, cfg: WordDataConfig, max_chars: int, vocab: list[str] | None = None):
        words = corpus_words(text, cfg.lowercase)
        if len(words) < 10:
            raise LmlabError(f"the corpus has {len(words)} words; ELMo needs a real text (thousands of words)")
        types = list(dict.fromkeys(words))
        index = {w: i for i, w in enumerate(types)}
        ids = torch.tensor([index[w] for w in words], dtype=torch.int32)
        self.train_ids, self.val_ids = split_tokens(ids, cfg.val_fraction)
        if vocab is None:  # from the training words only
            vocab = build_vocab([types[i] for i in self.train_ids.tolist()], cfg.max_vocab)
        self.vocab = vocab
        word_id = {w: i for i, w in enumerate(vocab)}
        self.type_word = torch.tensor([word_id.get(w, 0) for w in types])
        self.type_chars = torch.tensor([char_ids(w, max_chars) for w in types], dtype=torch.int16)
        self.n_words = len(words)

    def batches(self, seq_len: int, batch_size: int, seed: int, eval_batches: int) -> tuple[WordWindows, list]:
        """Training windows, and the same `eval_batches` validation windows at every evaluation."""
        train = WordWindows(self.train_ids, self.type_chars, self.type_word, seq_len, batch_size, seed)
        val = WordWindows(self.val_ids, self.type_chars, self.type_word, seq_len, batch_size, 0, "validation")
        return train, [val.next() for _ in range(eval_batches)]

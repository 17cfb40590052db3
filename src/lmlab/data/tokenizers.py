"""Tokenizers built on Hugging Face `tokenizers`, saved and reloaded as one `tokenizer.json`.

- char: one token per Unicode character seen in the corpus (English or Chinese alike);
- bpe:  byte-level BPE (Sennrich et al. 2016; GPT-2's byte-level variant) trained on the corpus,
        so any UTF-8 text can be encoded, with a vocabulary size of your choice.
Both are plain `tokenizers.Tokenizer` objects, so the saved file also loads in Hugging Face.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from lmlab.errors import LmlabError

KINDS = ("char", "bpe")
EOS = "<|endoftext|>"


class TextTokenizer:
    """A thin wrapper: encode/decode, vocab size, save/load, and clear errors for unseen characters."""

    def __init__(self, tok: Tokenizer, kind: str):
        self.tok, self.kind = tok, kind

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    @property
    def eos_id(self) -> int | None:
        """Id of the end-of-text token, if the vocabulary has one (byte-level BPE does; char does not)."""
        return self.tok.token_to_id(EOS)

    def encode(self, text: str) -> list[int]:
        if self.kind == "char":
            # a dict lookup per character gives the same ids as the Rust pipeline, ~30x faster
            vocab = self.tok.get_vocab()
            unseen = sorted(set(text) - vocab.keys())
            if unseen:
                shown = " ".join(repr(c) for c in unseen[:10])
                raise LmlabError(f"the text has {len(unseen)} character(s) this char tokenizer never saw "
                                 f"in training: {shown}; use only characters of the training corpus")
            return [vocab[c] for c in text]
        return self.tok.encode(text).ids

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=False)

    def save(self, path: str | Path) -> None:
        self.tok.save(str(path))

    @classmethod
    def load(cls, path: str | Path, model_vocab_size: int | None = None) -> TextTokenizer:
        """Load a tokenizer.json; with `model_vocab_size`, refuse one with ids the model has no row for."""
        if not Path(path).is_file():
            raise LmlabError(f"tokenizer file {path} is missing; restore it or retrain")
        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as e:  # tokenizers raises plain Exception on bad JSON
            raise LmlabError(f"{path} is not a valid tokenizer ({e}); restore it or retrain") from None
        kind = "bpe" if isinstance(tok.model, models.BPE) else "char"
        if model_vocab_size is not None and tok.get_vocab_size() > model_vocab_size:
            raise LmlabError(f"{path} has {tok.get_vocab_size()} tokens but the model only {model_vocab_size}; "
                             "the files come from different runs: restore the run's own tokenizer.json or retrain")
        return cls(tok, kind)


def train_char(text: str) -> TextTokenizer:
    """A character vocabulary: every distinct character of `text`, in code-point order."""
    chars = sorted(set(text))
    tok = Tokenizer(models.WordLevel({c: i for i, c in enumerate(chars)}, unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return TextTokenizer(tok, "char")


def train_bpe(text: str, vocab_size: int = 1024) -> TextTokenizer:
    """Byte-level BPE: start from the 256 bytes, merge the most frequent pairs until `vocab_size`."""
    if vocab_size < 257:
        raise LmlabError(f"byte-level BPE needs vocab_size ≥ 257 (256 bytes + 1 special), got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    lines = text.splitlines(keepends=True)
    tok.train_from_iterator((lines[i:i + 1000] for i in range(0, len(lines), 1000)), trainer=trainer)
    return TextTokenizer(tok, "bpe")


def train_tokenizer(kind: str, text: str, vocab_size: int = 1024) -> TextTokenizer:
    if kind == "char":
        return train_char(text)
    if kind == "bpe":
        return train_bpe(text, vocab_size)
    raise LmlabError(f"unknown tokenizer '{kind}'; choose from {', '.join(KINDS)}")

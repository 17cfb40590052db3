"""Tokenizers built on Hugging Face `tokenizers`, saved and reloaded as one `tokenizer.json`.

- char:      one token per Unicode character seen in the corpus (English or Chinese alike);
- bpe:       byte-level BPE (Sennrich et al. 2016; GPT-2's byte-level variant) trained on the corpus,
             so any UTF-8 text can be encoded, with a vocabulary size of your choice;
- wordpiece: BERT's tokenizer (Devlin et al. 2018): clean + lowercase + strip accents, a space around
             every CJK character and punctuation mark, split on whitespace, then WordPiece pieces where
             a piece that continues a word is written "##piece" ("playing" -> "play", "##ing").
All are plain `tokenizers.Tokenizer` objects, so the saved file also loads in Hugging Face.

BERT's inputs (notes 5.一): `encode_pair(a, b)` gives `[CLS] A [SEP] B [SEP]` with segment ids
(token_type_ids) 0 for `[CLS] A [SEP]` and 1 for `B [SEP]`.

Special tokens of a trained wordpiece vocabulary: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 (Hugging Face's
own default order). Google's bert-base vocab.txt has [PAD]=0 [UNK]=100 [CLS]=101 [SEP]=102 [MASK]=103;
no code here assumes either: ask `special_ids` ({"pad": 0, "unk": 1, ...}).

Word boundaries (for whole-word masking): a wordpiece token whose text starts with "##" continues the
word before it. `is_continuation(id)`, `word_starts(ids)` and `word_ids(ids)` answer from the ids alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from lmlab.errors import LmlabError

KINDS = ("char", "bpe", "wordpiece")
EOS = "<|endoftext|>"
# name -> token text; a trained wordpiece vocabulary has them at ids 0..4 in this order
BERT_SPECIALS = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}
CONTINUATION = "##"  # WordPiece's prefix for a piece inside a word
# the model class in tokenizer.json tells the kind (a char vocabulary is a WordLevel model)
_KIND_OF_MODEL = {models.BPE: "bpe", models.WordPiece: "wordpiece", models.WordLevel: "char"}


class TextTokenizer:
    """A thin wrapper: encode/decode, vocab size, save/load, and clear errors for unseen characters."""

    def __init__(self, tok: Tokenizer, kind: str):
        # a file may carry its own padding and truncation (many published ones pad to a fixed length);
        # lmlab pads and cuts where it asks to, as transformers does per call, so they are switched off
        tok.no_padding()
        tok.no_truncation()
        self.tok, self.kind = tok, kind
        vocab = tok.get_vocab()
        named = {**BERT_SPECIALS, "eos": EOS}
        self.special_ids: dict[str, int] = {name: vocab[t] for name, t in named.items() if t in vocab}
        # tokens that are not text: never part of a word ([UNK] stands for a real word, so it is one)
        self._specials = {i for name, i in self.special_ids.items() if name != "unk"}
        self._continues: set[int] | None = None  # ids of "##" pieces, built on first use

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    @property
    def eos_id(self) -> int | None:
        """Id of the end-of-text token, if the vocabulary has one (byte-level BPE does; char does not)."""
        return self.special_ids.get("eos")

    def encode(self, text: str) -> list[int]:
        """The ids of `text`, without special tokens ([CLS]/[SEP] are added by `encode_pair`)."""
        if self.kind == "char":
            # a dict lookup per character gives the same ids as the Rust pipeline, ~30x faster
            vocab = self.tok.get_vocab()
            unseen = sorted(set(text) - vocab.keys())
            if unseen:
                shown = " ".join(repr(c) for c in unseen[:10])
                raise LmlabError(f"the text has {len(unseen)} character(s) this char tokenizer never saw "
                                 f"in training: {shown}; use only characters of the training corpus")
            return [vocab[c] for c in text]
        # wordpiece: no [CLS]/[SEP] here; other kinds keep their file's post-processor (Llama's <s>)
        return self.tok.encode(text, add_special_tokens=self.kind != "wordpiece").ids

    def decode(self, ids: list[int], skip_special: bool = False) -> str:
        """The text of `ids`; skip_special drops [CLS], [SEP], [MASK] … (transformers' skip_special_tokens)."""
        return self.tok.decode(list(ids), skip_special_tokens=skip_special)

    def tokens(self, ids: list[int]) -> list[str]:
        """The vocabulary entry of each id ("##ing", "Ġthe", "[CLS]" ...), to show what the model sees."""
        return [self.tok.id_to_token(int(i)) for i in ids]

    # ---- BERT inputs -------------------------------------------------------------------------------
    def encode_pair(self, a: str, b: str | None = None, max_len: int | None = None,
                    pad: bool = False) -> dict[str, list[int]]:
        """`[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]` as BERT reads it (the file's own template of special
        tokens and segments, so an imported tokenizer adds what transformers adds).

        Returns input_ids, token_type_ids (segment: 0 up to and including the first [SEP], 1 after) and
        attention_mask (1 = real token, 0 = padding). With `max_len`, A and B lose tokens from their ends,
        the longer first, until everything fits (Hugging Face's "longest_first"); with `pad` too, [PAD]
        fills up to `max_len`.
        """
        if "cls" not in self.special_ids or "sep" not in self.special_ids:
            raise LmlabError(f"a {self.kind} tokenizer has no [CLS]/[SEP] tokens; BERT inputs need a "
                             "wordpiece tokenizer (`lmlab tokenizer train --kind wordpiece`)")
        n_special = self.tok.post_processor.num_special_tokens_to_add(b is not None) if self.tok.post_processor else 0
        if max_len is not None and max_len < n_special:
            raise LmlabError(f"max_len {max_len} leaves no room: [CLS] and [SEP] alone take {n_special}")
        # the library's own cut and template (its longest-first rule has changed between tokenizers
        # releases, so asking it keeps lmlab equal to Hugging Face's whatever the version)
        if max_len is not None:
            self.tok.enable_truncation(max_len, strategy="longest_first")
        try:
            enc = self.tok.encode(a, b, add_special_tokens=True)
        finally:
            self.tok.no_truncation()
        out = {"input_ids": enc.ids, "token_type_ids": enc.type_ids, "attention_mask": enc.attention_mask}
        if pad and max_len is not None:
            n_pad = max_len - len(out["input_ids"])
            out = {"input_ids": out["input_ids"] + [self.special_ids.get("pad", 0)] * n_pad,
                   "token_type_ids": out["token_type_ids"] + [0] * n_pad,
                   "attention_mask": out["attention_mask"] + [0] * n_pad}
        return out

    def encode_batch(self, texts: list[str], max_len: int | None = None) -> dict[str, list[list[int]]]:
        """`encode_pair` of each text, padded on the right with [PAD] to the longest of the batch (as
        transformers' `tokenizer(texts, padding=True)`); the attention mask is 0 on padding."""
        rows = [self.encode_pair(t, max_len=max_len) for t in texts]
        T = max(len(r["input_ids"]) for r in rows)
        fill = {"input_ids": self.special_ids.get("pad", 0), "token_type_ids": 0, "attention_mask": 0}
        return {k: [r[k] + [v] * (T - len(r[k])) for r in rows] for k, v in fill.items()}

    # ---- word boundaries (whole-word masking) ------------------------------------------------------
    def is_continuation(self, token_id: int) -> bool:
        """True if the token continues the word before it: a "##" wordpiece. A char token never does
        (each character is its own word, as Chinese BERT masks characters)."""
        if self.kind == "char":
            return False
        if self.kind != "wordpiece":
            raise LmlabError(f"word boundaries come from WordPiece's '##' pieces; a {self.kind} tokenizer "
                             "does not mark them (use a wordpiece or char tokenizer)")
        if self._continues is None:
            self._continues = {i for t, i in self.tok.get_vocab().items() if t.startswith(CONTINUATION)}
        return int(token_id) in self._continues

    def word_starts(self, ids: list[int]) -> list[bool]:
        """For each token: does a new word start here? [CLS], [SEP], [PAD], [MASK] are words of their
        own, and so is [UNK] (the word it replaced); a "##" piece with no word before it (first, or
        right after [CLS]/[SEP]) starts one."""
        out, after_word = [], False
        for i in ids:
            special = int(i) in self._specials
            out.append(special or not after_word or not self.is_continuation(i))
            after_word = not special
        return out

    def word_ids(self, ids: list[int]) -> list[int | None]:
        """For each token the index of its word, counted over the whole sequence (A and B alike);
        None for [CLS], [SEP], [PAD], [MASK] (and eos), which whole-word masking must never pick.
        ["[CLS]", "un", "##afford", "##able", "cat", "[SEP]"] -> [None, 0, 0, 0, 1, None]."""
        out: list[int | None] = []
        word = -1
        for i, start in zip(ids, self.word_starts(ids)):
            if int(i) in self._specials:
                out.append(None)
                continue
            word += start
            out.append(word)
        return out

    # ---- files ----------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write tokenizer.json atomically (a temp file, then a rename)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        self.tok.save(str(tmp))
        os.replace(tmp, path)

    def save_vocab_txt(self, path: str | Path) -> None:
        """Write BERT's vocab.txt: one token per line, the line number is the id."""
        if self.kind != "wordpiece":
            raise LmlabError(f"vocab.txt is BERT's WordPiece format; this tokenizer is {self.kind}")
        by_id = sorted(self.tok.get_vocab().items(), key=lambda kv: kv[1])
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(t + "\n" for t, _ in by_id), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path, model_vocab_size: int | None = None,
             lowercase: bool = True) -> TextTokenizer:
        """Load a tokenizer.json, or a BERT vocab.txt (one token per line, with the BERT pipeline;
        `lowercase` as bert-base-uncased, False for a cased vocabulary). With `model_vocab_size`, refuse
        a tokenizer with ids the model has no row for."""
        path = Path(path)
        if not path.is_file():
            raise LmlabError(f"tokenizer file {path} is missing; restore it or retrain")
        if path.suffix == ".txt":
            tok = _load_vocab_txt(path, lowercase)
        else:
            try:
                tok = Tokenizer.from_file(str(path))
            except Exception as e:  # tokenizers raises plain Exception on bad JSON
                raise LmlabError(f"{path} is not a valid tokenizer ({e}); restore it or retrain") from None
        kind = _KIND_OF_MODEL.get(type(tok.model))
        if kind is None:
            raise LmlabError(f"{path} holds a {type(tok.model).__name__} model; lmlab reads "
                             f"{', '.join(KINDS)} tokenizers")
        if model_vocab_size is not None and tok.get_vocab_size() > model_vocab_size:
            raise LmlabError(f"{path} has {tok.get_vocab_size()} tokens but the model only {model_vocab_size}; "
                             "the files come from different runs: restore the run's own tokenizer.json or retrain")
        return cls(tok, kind)


def truncate_longest_first(a: list[int], b: list[int] | None,
                           room: int) -> tuple[list[int], list[int] | None]:
    """Cut A and B (from their ends) to `room` tokens in all, as Hugging Face `tokenizers` does:
    the shorter one is kept whole if it fits in half the room and the longer gets the rest;
    otherwise each gets half, and the longer (B on a tie) the odd token."""
    if b is None:
        return a[:room], None
    if len(a) + len(b) <= room:
        return a, b
    if 2 * min(len(a), len(b)) <= room:
        keep_short = min(len(a), len(b))
    else:
        keep_short = room // 2
    if len(a) > len(b):
        return a[:room - keep_short], b[:keep_short]
    return a[:keep_short], b[:room - keep_short]


def _bert_pipeline(tok: Tokenizer, lowercase: bool, chinese: bool = True,
                   strip_accents: bool | None = None) -> Tokenizer:
    """BERT's steps around the WordPiece model: normalize, pre-tokenize, add [CLS]/[SEP], decode; the
    flags are BertTokenizer's (do_lower_case, tokenize_chinese_chars, strip_accents)."""
    # clean_text drops control characters; handle_chinese_chars puts spaces around each CJK character
    # (so Chinese is tokenized character by character); strip_accents None follows lowercase, as in BERT
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=chinese,
                                                strip_accents=strip_accents, lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()  # split on whitespace and punctuation
    tok.decoder = decoders.WordPiece(prefix=CONTINUATION)  # glue "##" pieces back onto their word
    vocab = tok.get_vocab()
    # "[MASK]" written in a text is the mask token, not "[", "mask", "]" (as in transformers)
    tok.add_special_tokens([t for t in BERT_SPECIALS.values() if t in vocab])
    if "[CLS]" in vocab and "[SEP]" in vocab:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    return tok


def bert_tokenizer(vocab: dict[str, int], lowercase: bool = True, chinese: bool = True,
                   strip_accents: bool | None = None) -> TextTokenizer:
    """BERT's WordPiece tokenizer of a vocabulary, built as transformers' BertTokenizer builds it."""
    if "[UNK]" not in vocab:
        raise LmlabError("a BERT vocabulary needs an [UNK] token")
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    return TextTokenizer(_bert_pipeline(tok, lowercase, chinese, strip_accents), "wordpiece")


def read_vocab_txt(path: str | Path) -> dict[str, int]:
    """BERT's vocab.txt as {token: id}: one token per line, the line number is the id."""
    path = Path(path)
    tokens = path.read_text(encoding="utf-8").splitlines()
    vocab = {t: i for i, t in enumerate(tokens)}  # a repeated line keeps its last id, as transformers does
    if "[UNK]" not in vocab:
        raise LmlabError(f"{path} has no [UNK] line; a BERT vocab.txt lists [PAD] [UNK] [CLS] [SEP] [MASK] "
                         "and one token per line")
    return vocab


def _load_vocab_txt(path: Path, lowercase: bool) -> Tokenizer:
    return _bert_pipeline(Tokenizer(models.WordPiece(read_vocab_txt(path), unk_token="[UNK]")), lowercase)


def train_char(text: str) -> TextTokenizer:
    """A character vocabulary: every distinct character of `text`, in code-point order."""
    chars = sorted(set(text))
    tok = Tokenizer(models.WordLevel({c: i for i, c in enumerate(chars)}, unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return TextTokenizer(tok, "char")


def _batches(text: str):
    lines = text.splitlines(keepends=True)
    return (lines[i:i + 1000] for i in range(0, len(lines), 1000))


def train_bpe(text: str, vocab_size: int = 1024, specials: tuple[str, ...] = ()) -> TextTokenizer:
    """Byte-level BPE: start from the 256 bytes, merge the most frequent pairs until `vocab_size`; `specials`
    are reserved tokens besides EOS (whole in any text, never merged, e.g. translation's <ph0>)."""
    if vocab_size < 257:
        raise LmlabError(f"byte-level BPE needs vocab_size ≥ 257 (256 bytes + 1 special), got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS, *specials], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_batches(text), trainer=trainer)
    return TextTokenizer(tok, "bpe")


def train_wordpiece(text: str, vocab_size: int = 1024, lowercase: bool = True) -> TextTokenizer:
    """BERT's WordPiece: the 5 specials, every character (alone and as "##c"), then the merges that
    most raise the corpus likelihood, until `vocab_size`. A corpus too small may stop short of it."""
    tok = _bert_pipeline(Tokenizer(models.WordPiece(unk_token="[UNK]")), lowercase)
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=list(BERT_SPECIALS.values()),
                                        continuing_subword_prefix=CONTINUATION, show_progress=False)
    tok.train_from_iterator(_batches(text), trainer=trainer)
    if tok.get_vocab_size() > vocab_size:  # the trainer never drops a character: the alphabet is the floor
        raise LmlabError(f"vocab_size {vocab_size} is too small for this corpus: its {len(BERT_SPECIALS)} "
                         f"special tokens and characters alone take {tok.get_vocab_size()}; "
                         f"ask for more than {tok.get_vocab_size()}")
    return TextTokenizer(_bert_pipeline(tok, lowercase), "wordpiece")  # post-processor: ids now known


def train_tokenizer(kind: str, text: str, vocab_size: int = 1024, lowercase: bool = True) -> TextTokenizer:
    """`lowercase` applies to wordpiece only (uncased BERT, the default)."""
    if kind == "char":
        return train_char(text)
    if kind == "bpe":
        return train_bpe(text, vocab_size)
    if kind == "wordpiece":
        return train_wordpiece(text, vocab_size, lowercase)
    raise LmlabError(f"unknown tokenizer '{kind}'; choose from {', '.join(KINDS)}")

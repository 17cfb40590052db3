"""Masked-language-model masking: token, whole-word and span masking, static or dynamic; a collator.

References:
- token masking: Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional Transformers", §3.1;
  Google's `create_pretraining_data.py` (github.com/google-research/bert).
- whole-word masking: Google's BERT release notes (2019-05-31, `--do_whole_word_mask`) and
  Cui et al. 2019, "Pre-Training with Whole Word Masking for Chinese BERT".
- span masking: Joshi et al. 2020, "SpanBERT: Improving Pre-training by Representing and Predicting
  Spans", §3.1; facebookresearch/SpanBERT `pretraining/fairseq/data/masking.py`.
- static vs dynamic masking: Liu et al. 2019, "RoBERTa: A Robustly Optimized BERT Pretraining
  Approach", §4.1.

The recipe (the "cloze" task): choose 15 % of the tokens an example may lose; the model must predict
their original ids from the rest. Of the chosen ones 80 % become [MASK], 10 % a random token, 10 % stay
as they are. Why not always [MASK]? [MASK] never occurs at fine-tuning time; replacing some targets
by random or unchanged tokens makes the model keep a good representation of *every* input token,
since it cannot tell which visible tokens it will be asked about.

Conventions used throughout:
- `ids` is one example, a (T,) LongTensor; `special` (T,) bool marks tokens that are never chosen
  ([CLS], [SEP], [PAD], and whatever else the caller lists — HF also protects [UNK]);
- `labels` (T,) holds the original id at every chosen position and -100 elsewhere (the
  `ignore_index` of `F.cross_entropy`, and Hugging Face's convention), so the loss is averaged over
  the chosen positions only — including the 10 % left unchanged, which the model must still predict;
- `word_starts` (T,) bool is True where a word begins. For WordPiece a token starts a word unless its
  string begins with "##" (see `continuation_table`). `None` means every token is a word.
- the budget is `round(mask_prob * n)` positions with n = the number of non-special tokens (at least
  one when n > 0), an exact count per example as in Google's and SpanBERT's code (HF's collator
  instead flips a 15 % coin per token; the average is the same, the variance is not). There is no
  `max_predictions_per_seq` cap (Google's 20 per 128 tokens): labels are a dense (T,) tensor here,
  not a fixed-size list of positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch

from lmlab.errors import LmlabError

IGNORE_INDEX = -100
STRATEGIES = ("token", "whole_word", "span")


@dataclass(frozen=True)
class MaskingConfig:
    """How examples are masked. The defaults are BERT's (token) with SpanBERT's span settings."""

    strategy: str = "token"        # "token" | "whole_word" | "span"
    mask_prob: float = 0.15        # fraction of the non-special tokens that become prediction targets
    mask_frac: float = 0.8         # of the targets: replaced by [MASK] ...
    random_frac: float = 0.1       # ... replaced by a random token ...
    keep_frac: float = 0.1         # ... left unchanged (still predicted)
    span_p: float = 0.2            # SpanBERT: span length in words ~ Geometric(span_p) ...
    span_max: int = 10             # ... truncated to 1..span_max and renormalised
    dynamic: bool = True           # RoBERTa: a fresh mask each time an example is drawn

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise LmlabError(f"masking strategy {self.strategy!r} is unknown; choose one of {STRATEGIES}")
        if not 0.0 < self.mask_prob < 1.0:
            raise LmlabError(f"mask_prob must lie in (0, 1), got {self.mask_prob}")
        fracs = (self.mask_frac, self.random_frac, self.keep_frac)
        if min(fracs) < 0 or abs(sum(fracs) - 1.0) > 1e-6:
            raise LmlabError(f"mask/random/keep fractions must be >= 0 and sum to 1, got {fracs}")
        if not 0.0 < self.span_p <= 1.0 or self.span_max < 1:
            raise LmlabError(f"span_p must lie in (0, 1] and span_max >= 1, got {self.span_p}, {self.span_max}")

    def span_length_probs(self) -> torch.Tensor:
        """P(length = 1..span_max): p(1-p)^(l-1), renormalised over 1..span_max, as SpanBERT's code does.

        The paper says "clipping at l_max = 10, which yields a mean span length of 3.8": that mean is the
        renormalised (truncated) distribution's, 3.797; clipping as min(L, 10) would give 4.46.
        """
        lengths = torch.arange(1, self.span_max + 1, dtype=torch.float64)
        w = self.span_p * (1 - self.span_p) ** (lengths - 1)
        return w / w.sum()


# ----------------------------------------------------------------------------- word structure


def continuation_table(vocab: dict[str, int], prefix: str = "##") -> torch.Tensor:
    """(V,) bool: True for WordPiece continuation pieces ("##ing"), so `word_starts = ~table[ids]`."""
    table = torch.zeros(max(vocab.values()) + 1, dtype=torch.bool)
    for token, i in vocab.items():
        table[i] = token.startswith(prefix) and len(token) > len(prefix)
    return table


def word_starts_from_word_ids(word_ids: Sequence[int | None]) -> torch.Tensor:
    """(T,) bool from a Hugging Face `Encoding.word_ids` list (None for special tokens)."""
    starts = [w is not None and (i == 0 or word_ids[i - 1] != w) for i, w in enumerate(word_ids)]
    return torch.tensor(starts, dtype=torch.bool)


class Words(NamedTuple):
    """The words among the maskable (non-special) tokens of one example, in order."""

    start: torch.Tensor  # (W,) token position of each word's first piece
    size: torch.Tensor   # (W,) number of pieces
    run: torch.Tensor    # (W,) index of the maximal special-free stretch the word lies in


def find_words(special: torch.Tensor, word_starts: torch.Tensor | None) -> Words:
    """Group non-special tokens into words; a special token always ends a word (and a run)."""
    cand = (~special).nonzero().squeeze(1)  # (N,) positions that may be masked
    if len(cand) == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return Words(empty, empty, empty)
    after_gap = torch.ones(len(cand), dtype=torch.bool)
    after_gap[1:] = cand[1:] - cand[:-1] != 1  # a special token sits in between
    if word_starts is None:
        is_start = torch.ones(len(cand), dtype=torch.bool)
    else:
        is_start = word_starts.bool()[cand] | after_gap
    first = is_start.nonzero().squeeze(1)          # indices into cand
    size = torch.diff(first, append=torch.tensor([len(cand)]))
    run = torch.cumsum(after_gap.long(), 0)[first] - 1
    return Words(cand[first], size, run)


def _budget(n: int, mask_prob: float) -> int:
    return 0 if n == 0 else max(1, round(n * mask_prob))


# ----------------------------------------------------------------------------- choosing targets


def choose_tokens(special: torch.Tensor, cfg: MaskingConfig, generator=None) -> torch.Tensor:
    """BERT: exactly `budget` non-special positions, uniformly at random. Returns sorted positions."""
    cand = (~special).nonzero().squeeze(1)
    k = _budget(len(cand), cfg.mask_prob)
    return cand[torch.randperm(len(cand), generator=generator)[:k]].sort().values


def choose_whole_words(special: torch.Tensor, word_starts: torch.Tensor | None, cfg: MaskingConfig,
                       generator=None) -> torch.Tensor:
    """Whole-word masking as Google's `create_masked_lm_predictions`: visit the words in random order
    and take each one whose pieces still fit in the budget (a word that would overflow it is skipped,
    never cut). Returns sorted token positions; every word is taken whole or not at all."""
    words = find_words(special, word_starts)
    k = _budget(int(words.size.sum()), cfg.mask_prob)
    taken, used = [], 0
    sizes = words.size.tolist()
    for w in torch.randperm(len(sizes), generator=generator).tolist():
        if used == k:
            break
        if used + sizes[w] <= k:
            taken.append(w)
            used += sizes[w]
    if not taken:
        return torch.zeros(0, dtype=torch.long)
    sel = torch.tensor(sorted(taken))
    pos = [torch.arange(s, s + n) for s, n in zip(words.start[sel].tolist(), words.size[sel].tolist())]
    return torch.cat(pos)


class Span(NamedTuple):
    start: int       # first token position
    end: int         # one past the last token position
    n_words: int     # length in words
    truncated: bool  # shorter than its drawn length (budget reached, or no room for it)


def choose_spans(special: torch.Tensor, word_starts: torch.Tensor | None, cfg: MaskingConfig,
                 generator=None) -> list[Span]:
    """SpanBERT: until the budget is spent, draw a length l (in words) from `cfg.span_length_probs()`,
    then a start uniformly among the word starts where l whole words fit; mask those words.

    Choices (SpanBERT's code differs in small ways, noted):
    - a span never crosses a special token ([SEP]) and never touches another span (one unmasked word
      at least in between), so each span is seen as one contiguous gap of exactly its drawn length.
      SpanBERT lets spans touch and merges them;
    - the length is drawn first and the position among the places where it fits, so the lengths of
      the spans follow the truncated geometric law exactly (if it fits nowhere, it is shortened);
    - the last span is cut (to whole words) where the budget runs out; SpanBERT cuts it to the token.
    """
    words = find_words(special, word_starts)
    n_words = len(words.size)
    k = _budget(int(words.size.sum()), cfg.mask_prob)
    probs = cfg.span_length_probs()
    masked = torch.zeros(n_words + 1, dtype=torch.long)  # one spare slot: "after the last word" is free
    cum_size = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(words.size, 0)])
    run = torch.cat([words.run, torch.tensor([-1])])    # a sentinel run after the end
    spans, used = [], 0
    while used < k:
        drawn = int(torch.multinomial(probs, 1, generator=generator)) + 1
        length, starts = drawn, None
        while length >= 1:
            starts = _fitting_starts(masked, run, n_words, length)
            if len(starts):
                break
            length -= 1
        if length == 0:
            break  # every word is masked or next to a masked one
        w = int(starts[torch.randint(len(starts), (1,), generator=generator)])
        # cut to the budget: the longest prefix of whole words that still fits
        fit = int(torch.searchsorted(cum_size[w + 1: w + length + 1], k - used + cum_size[w], right=True))
        if fit == 0:
            break
        length_used = min(length, fit)
        masked[w: w + length_used] = 1
        n_tok = int(cum_size[w + length_used] - cum_size[w])
        start = int(words.start[w])
        spans.append(Span(start, start + n_tok, length_used, length_used < drawn))
        used += n_tok
    return sorted(spans)


def _fitting_starts(masked: torch.Tensor, run: torch.Tensor, n_words: int, length: int) -> torch.Tensor:
    """Word indices w where words w..w+length-1 lie in one run, are unmasked, and their neighbours
    within that run are unmasked too."""
    if length > n_words:
        return torch.zeros(0, dtype=torch.long)
    w = torch.arange(n_words - length + 1)
    last = w + length - 1
    prefix = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(masked[:n_words], 0)])
    ok = (run[w] == run[last]) & (prefix[last + 1] - prefix[w] == 0)
    left = w - 1
    ok &= (left < 0) | (run[left.clamp(min=0)] != run[w]) | (masked[left.clamp(min=0)] == 0)
    right = last + 1  # may be n_words: the sentinel (run -1, unmasked)
    ok &= (run[right] != run[w]) | (masked[right] == 0)
    return w[ok]


# ----------------------------------------------------------------------------- masking


def random_token_ids(n: int, vocab_size: int, special_ids: Sequence[int], generator=None) -> torch.Tensor:
    """n ids uniform over range(vocab_size) minus `special_ids` (so a "random word" is never [CLS],
    [SEP], [PAD] or [MASK]). Google's and HF's code draw from the whole vocabulary instead; with 30k
    entries the difference is ~0.02 % of the random replacements, but it matters for tiny vocabularies.

    How: draw r in [0, V - |S|) and step it over each excluded id in ascending order."""
    excluded = sorted({i for i in special_ids if 0 <= i < vocab_size})
    if vocab_size - len(excluded) <= 0:
        raise LmlabError("the vocabulary holds no non-special token to draw random replacements from")
    r = torch.randint(vocab_size - len(excluded), (n,), generator=generator)
    for s in excluded:
        r += (r >= s).long()
    return r


def mask_tokens(ids: torch.Tensor, special: torch.Tensor, word_starts: torch.Tensor | None,
                cfg: MaskingConfig, vocab_size: int, mask_id: int, generator=None,
                special_ids: Sequence[int] = ()) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask one example: returns (input_ids, labels), both (T,) long.

    Positions are chosen by `cfg.strategy`; then each *unit* is replaced by [MASK] (80 %), a random
    non-special token (10 %, uniform over range(vocab_size) minus `special_ids`) or kept (10 %):
    - token and whole_word: the unit is the token. For whole words this follows Google's
      `create_pretraining_data.py`, which draws the 80/10/10 coin inside its loop over a word's pieces,
      so "play ##ing" may become "[MASK] ##ing" — both pieces are still targets. (HF's
      DataCollatorForWholeWordMask does the same.) The *choice* of targets is per word; the corruption
      is per piece, which keeps the 80/10/10 statistics identical to token masking;
    - span: the unit is the span (SpanBERT: "we replace 80 % of the spans with [MASK] ... for each
      span"), so a span is all [MASK], all random, or all original.
    """
    ids = ids.long()
    special = special.bool()
    labels = torch.full_like(ids, IGNORE_INDEX)
    if cfg.strategy == "span":
        spans = choose_spans(special, word_starts, cfg, generator)
        pos = torch.cat([torch.arange(s.start, s.end) for s in spans]) if spans else labels[:0]
        unit = torch.cat([torch.full((s.end - s.start,), i) for i, s in enumerate(spans)]) if spans else pos
        n_units = len(spans)
    else:
        pos = (choose_tokens(special, cfg, generator) if cfg.strategy == "token"
               else choose_whole_words(special, word_starts, cfg, generator))
        unit, n_units = torch.arange(len(pos)), len(pos)
    labels[pos] = ids[pos]
    coin = torch.rand(n_units, generator=generator)[unit]  # one draw per unit, shared by its tokens
    out = ids.clone()
    to_mask = coin < cfg.mask_frac
    to_random = (coin >= cfg.mask_frac) & (coin < cfg.mask_frac + cfg.random_frac)
    out[pos[to_mask]] = mask_id
    out[pos[to_random]] = random_token_ids(int(to_random.sum()), vocab_size, special_ids, generator)
    return out, labels


# ----------------------------------------------------------------------------- static vs dynamic


def example_generator(seed: int, index: int) -> torch.Generator:
    """A generator that depends only on (seed, example index): static masking's fixed mask per example."""
    return torch.Generator().manual_seed((seed * 1_000_003 + index) % (2**63))


class MLMCollator:
    """Turns a list of examples into a padded MLM batch.

    An example is a dict with `input_ids` (list of ints, usually "[CLS] A [SEP] B [SEP]") and
    optionally `token_type_ids`, `word_starts` (list of bools), `index` (its position in the dataset;
    required for static masking), and `next_sentence_label` / `sentence_order_label`.
    Each example is masked *before* padding, so pads are never targets; tokens in `special_ids` are
    never chosen. Word starts come from the example, else from `continuation` (a (V,) bool table,
    see `continuation_table`), else every token is a word.

    Static vs dynamic (RoBERTa §4.1): BERT masked its data once, offline (duplicated 10 times with
    different masks); RoBERTa masks on the fly, so an example seen in epoch 1 and epoch 2 gets
    different targets. Here `dynamic=True` draws from the collator's own generator (its state can be
    saved with the run); `dynamic=False` seeds a generator from (seed, example index), so the same
    example always gets the same mask, whichever epoch or batch it lands in.

    The batch: input_ids, attention_mask (1 = real token), token_type_ids, labels (-100 where not a
    target, including pads), all (B, T) long, plus (B,) labels for the sentence-pair task if present.
    """

    PAIR_KEYS = ("next_sentence_label", "sentence_order_label")

    def __init__(self, cfg: MaskingConfig, vocab_size: int, mask_id: int, pad_id: int,
                 special_ids: Sequence[int], seed: int = 0, continuation: torch.Tensor | None = None):
        self.cfg, self.vocab_size, self.mask_id, self.pad_id = cfg, vocab_size, mask_id, pad_id
        self.special_ids = sorted(set(special_ids) | {pad_id, mask_id})
        self.seed, self.continuation = seed, continuation
        self.gen = torch.Generator().manual_seed(seed)

    def mask_example(self, ex: dict) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.as_tensor(ex["input_ids"], dtype=torch.long)
        special = torch.isin(ids, torch.tensor(self.special_ids))
        if "word_starts" in ex:
            starts = torch.as_tensor(ex["word_starts"], dtype=torch.bool)
        elif self.continuation is not None:
            starts = ~self.continuation[ids]
        else:
            starts = None
        if self.cfg.dynamic:
            gen = self.gen
        elif "index" not in ex:
            raise LmlabError("static masking needs each example's dataset `index` to fix its mask")
        else:
            gen = example_generator(self.seed, int(ex["index"]))
        return mask_tokens(ids, special, starts, self.cfg, self.vocab_size, self.mask_id, gen, self.special_ids)

    def __call__(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        B, T = len(examples), max(len(ex["input_ids"]) for ex in examples)
        batch = {
            "input_ids": torch.full((B, T), self.pad_id, dtype=torch.long),
            "attention_mask": torch.zeros(B, T, dtype=torch.long),
            "token_type_ids": torch.zeros(B, T, dtype=torch.long),
            "labels": torch.full((B, T), IGNORE_INDEX, dtype=torch.long),
        }
        for b, ex in enumerate(examples):
            inp, lab = self.mask_example(ex)
            n = len(inp)
            batch["input_ids"][b, :n], batch["labels"][b, :n] = inp, lab
            batch["attention_mask"][b, :n] = 1
            if "token_type_ids" in ex:
                batch["token_type_ids"][b, :n] = torch.as_tensor(ex["token_type_ids"], dtype=torch.long)
        for key in self.PAIR_KEYS:
            if all(key in ex for ex in examples):
                batch[key] = torch.tensor([int(ex[key]) for ex in examples], dtype=torch.long)
        return batch

    def state_dict(self) -> dict:
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["generator"])

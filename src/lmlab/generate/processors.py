"""Logits processors: small callables that reshape the next-token logits before a token is picked.

Every processor has Hugging Face's signature, ``processor(input_ids, logits) -> logits``: input_ids (B, T)
are the tokens so far (prompt + generated, left padding included), logits (B, V) the scores for the next
token. A processor returns a new tensor; a token it removes gets -inf, so softmax gives it probability 0.

    temperature         divide by t                                     (Ackley et al. 1985)
    top-k               keep the k most likely tokens                   (Fan et al. 2018)
    top-p (nucleus)     keep the smallest top set with mass >= p        (Holtzman et al. 2020)
    min-p               keep tokens with prob >= p * max prob           (Nguyen et al. 2024)
    repetition penalty  push down tokens already in the sequence        (Keskar et al. 2019, CTRL)
    no-repeat n-gram    ban a token that would repeat an n-gram         (Paulus et al. 2018)

Order. `build_processors` follows transformers' ``GenerationMixin._get_logits_processor``
(generation/utils.py): the penalties first, repetition penalty then no-repeat n-gram, applied whether
sampling or not; then, only when sampling, the warpers temperature -> top-k -> top-p -> min-p. Min-p
therefore sees the tempered (and already top-k/top-p filtered) distribution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

# (input_ids (B, T), logits (B, V)) -> logits (B, V)
Processor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

NEG_INF = float("-inf")


def _check_int(name: str, value, minimum: int) -> int:
    """Reject bools, floats and values below `minimum` with a message that names the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


class Temperature:
    """Divide the logits by t: t < 1 sharpens the distribution, t > 1 flattens it."""

    def __init__(self, t: float):
        if not t > 0:  # also rejects NaN
            raise ValueError(f"temperature must be > 0 (for t = 0 decode greedily instead), got {t!r}")
        self.t = float(t)

    def __call__(self, input_ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return logits / self.t

    def __repr__(self) -> str:
        return f"Temperature({self.t})"


class TopK:
    """Keep the k highest logits of each row (at least min_tokens_to_keep); the rest get -inf.

    A token tied with the k-th highest logit is kept as well, so a row with ties can keep more than k.
    """

    def __init__(self, k: int, min_tokens_to_keep: int = 1):
        self.k = _check_int("top_k", k, 1)
        self.min_tokens_to_keep = _check_int("min_tokens_to_keep", min_tokens_to_keep, 1)

    def __call__(self, input_ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        k = min(max(self.k, self.min_tokens_to_keep), logits.size(-1))
        kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (B, 1): the k-th highest logit
        return logits.masked_fill(logits < kth, NEG_INF)

    def __repr__(self) -> str:
        return f"TopK(k={self.k}, min_tokens_to_keep={self.min_tokens_to_keep})"


class TopP:
    """Nucleus filter: keep the smallest set of most likely tokens whose probability mass is >= p.

    Which tokens survive, exactly (the same arithmetic as Hugging Face's TopPLogitsWarper): sort each row
    ascending with torch.sort, take softmax and a running sum from the least likely token up (in the logits'
    dtype); a token is removed when that running sum, its own probability included, is <= 1 - p. So the
    least likely tokens go as long as together they hold at most 1 - p, and the kept top set holds >= p (up
    to rounding at the boundary). With probabilities [0.5, 0.3, 0.15, 0.05], p = 0.8 keeps 2 tokens and
    p = 0.81 keeps 3. The last min_tokens_to_keep tokens of the sorted order (the most likely) always stay.
    Among tied logits the order torch.sort gives decides which of them falls on either side of the cut.
    p = 1 removes only tokens of probability 0.
    """

    def __init__(self, p: float, min_tokens_to_keep: int = 1):
        if not 0 < p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {p!r}")
        self.p = float(p)
        self.min_tokens_to_keep = _check_int("min_tokens_to_keep", min_tokens_to_keep, 1)

    def __call__(self, input_ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        sorted_logits, order = torch.sort(logits, dim=-1)  # (B, V), least likely first
        tail_mass = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # (B, V): this token and all less likely
        drop = tail_mass <= 1 - self.p
        drop[..., -self.min_tokens_to_keep:] = False  # the most likely ones stay whatever the mass
        drop = drop.scatter(-1, order, drop)  # back from sorted to vocabulary order
        return logits.masked_fill(drop, NEG_INF)

    def __repr__(self) -> str:
        return f"TopP(p={self.p}, min_tokens_to_keep={self.min_tokens_to_keep})"


class MinP:
    """Keep tokens whose probability is >= p times the row's highest one (at least min_tokens_to_keep).

    The cut scales with the model's confidence: a peaked distribution keeps few tokens, a flat one many.
    """

    def __init__(self, p: float, min_tokens_to_keep: int = 1):
        if not 0 <= p <= 1:
            raise ValueError(f"min_p must be in [0, 1], got {p!r}")
        self.p = float(p)
        self.min_tokens_to_keep = _check_int("min_tokens_to_keep", min_tokens_to_keep, 1)

    def __call__(self, input_ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        probs = logits.softmax(dim=-1)  # (B, V)
        drop = probs < self.p * probs.amax(dim=-1, keepdim=True)  # threshold (B, 1)
        k = min(self.min_tokens_to_keep, logits.size(-1))
        drop.scatter_(-1, torch.topk(probs, k, dim=-1).indices, False)  # the k most likely stay
        return logits.masked_fill(drop, NEG_INF)

    def __repr__(self) -> str:
        return f"MinP(p={self.p}, min_tokens_to_keep={self.min_tokens_to_keep})"


class RepetitionPenalty:
    """CTRL's penalty on every token already in input_ids: logit / penalty if > 0, logit * penalty if < 0.

    Both cases lower the token's logit when penalty > 1 (raise it when < 1; a logit of exactly 0 stays); a
    token seen many times is penalised once. Pad tokens in input_ids count like any other token, as in
    Hugging Face's processor; `prompt_ignore_length` (an int, or a (B,) tensor) skips that many leading
    positions of each row, which is what transformers 5's generate() passes (the number of left pads) for a
    left-padded batch.
    """

    def __init__(self, penalty: float, prompt_ignore_length: int | torch.Tensor | None = None):
        if not penalty > 0:
            raise ValueError(f"repetition_penalty must be > 0, got {penalty!r}")
        if isinstance(prompt_ignore_length, int):
            _check_int("prompt_ignore_length", prompt_ignore_length, 0)
        self.penalty = float(penalty)
        self.prompt_ignore_length = prompt_ignore_length

    def __call__(self, input_ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        B, V = logits.shape
        ids = input_ids
        if self.prompt_ignore_length is not None:  # skipped positions point at a spare column V
            skip = torch.as_tensor(self.prompt_ignore_length, device=ids.device).reshape(-1, 1)  # (B or 1, 1)
            ids = ids.masked_fill(torch.arange(ids.size(1), device=ids.device) < skip, V)
        # ids >= V (an embedding table larger than the output head) also land in the spare column
        seen = torch.zeros(B, V + 1, dtype=torch.bool, device=logits.device)
        seen.scatter_(1, ids.clamp(max=V), True)
        penalised = torch.where(logits < 0, logits * self.penalty, logits / self.penalty)  # (B, V)
        return torch.where(seen[:, :V], penalised, logits)

    def __repr__(self) -> str:
        if self.prompt_ignore_length is None:
            return f"RepetitionPenalty({self.penalty})"
        return f"RepetitionPenalty({self.penalty}, prompt_ignore_length={self.prompt_ignore_length})"


class NoRepeatNGram:
    """Ban (-inf) every token that would complete an n-gram already present in the row's input_ids.

    The next token x would form the n-gram (last n-1 tokens, x); it is banned when some earlier n-gram starts
    with those same n-1 tokens and ends in x. n = 1 bans every token seen so far. The whole row counts,
    prompt and pad tokens included, as in Hugging Face's processor.
    """

    def __init__(self, n: int):
        self.n = _check_int("no_repeat_ngram_size", n, 1)

    def __call__(self, input_ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        (B, T), V, n = input_ids.shape, logits.size(-1), self.n
        if T < n:  # no complete n-gram yet
            return logits.clone()
        grams = input_ids.unfold(1, n, 1)  # (B, T-n+1, n): every n-gram so far
        prefix = input_ids[:, T - n + 1:]  # (B, n-1): the start of the n-gram the next token would close
        hit = (grams[..., :-1] == prefix[:, None, :]).all(dim=-1)  # (B, T-n+1): n-grams starting that way
        # scatter each hit's last token; misses (and ids >= V) go to a spare column V so they ban nothing
        banned = torch.zeros(B, V + 1, dtype=torch.bool, device=logits.device)
        banned.scatter_(1, grams[..., -1].clamp(max=V).masked_fill(~hit, V), True)
        return logits.masked_fill(banned[:, :V], NEG_INF)

    def __repr__(self) -> str:
        return f"NoRepeatNGram({self.n})"


def build_processors(*, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, min_p: float = 0.0,
                     repetition_penalty: float = 1.0, no_repeat_ngram_size: int = 0) -> list[Processor]:
    """The active processors in Hugging Face generate()'s order; settings that change nothing are left out.

    temperature = 0 means the caller decodes greedily: as in generate() without sampling, only the penalties
    are returned (top-k, top-p and min-p never remove the argmax, so they could not change the pick anyway).
    """
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature!r}")
    _check_int("top_k", top_k, 0)
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
    if not 0 <= min_p <= 1:
        raise ValueError(f"min_p must be in [0, 1], got {min_p!r}")
    if not repetition_penalty > 0:
        raise ValueError(f"repetition_penalty must be > 0 (1 = off), got {repetition_penalty!r}")
    _check_int("no_repeat_ngram_size", no_repeat_ngram_size, 0)

    processors: list[Processor] = []
    if repetition_penalty != 1.0:
        processors.append(RepetitionPenalty(repetition_penalty))
    if no_repeat_ngram_size > 0:
        processors.append(NoRepeatNGram(no_repeat_ngram_size))
    if temperature == 0:
        return processors
    if temperature != 1.0:
        processors.append(Temperature(temperature))
    if top_k > 0:
        processors.append(TopK(top_k))
    if top_p < 1.0:
        processors.append(TopP(top_p))
    if min_p > 0.0:
        processors.append(MinP(min_p))
    return processors


def apply_processors(processors: Sequence[Processor], input_ids: torch.Tensor,
                     logits: torch.Tensor) -> torch.Tensor:
    """Run the processors left to right, each on the previous one's output: (B, T), (B, V) -> (B, V)."""
    for processor in processors:
        logits = processor(input_ids, logits)
    return logits

"""Decoding: greedy, sampling and beam search, one token at a time over an explicit KV cache.

Autoregressive generation repeats: run the model, take the last position's logits (B, V), apply
the logits processors, pick a token (argmax, a random draw, or the best beam continuations),
append it. Without a cache every step re-encodes the whole sequence (O(T²) work for T tokens);
with the cache the prompt is encoded once ("prefill") and each step feeds one token whose
queries attend to the cached keys and values (O(T)). Both paths compute the same numbers, and
the tests hold them to giving the same tokens.

Batches of prompts of different lengths are left-padded: the pads sit before the prompt, so
every row's next token is at the same column. Pads are masked out as keys, and positions are
counted from each row's first real token (as Hugging Face does), so a padded row gives the same
tokens as the same prompt alone.

Beam search (Hugging Face's default variant, `early_stopping=False`): keep the K best partial
sequences by summed log-probability; a sequence that ends (EOS, or the length limit) is scored
by sum / (generated length ** length_penalty) and kept among the K best finished ones; stop when
no running beam can still beat the worst of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lmlab.generate.processors import Processor, apply_processors, build_processors


@dataclass(frozen=True)
class GenerationConfig:
    max_new_tokens: int = 100
    temperature: float = 1.0          # 0 = greedy (argmax); otherwise sample
    top_k: int = 0                    # 0 = off
    top_p: float = 1.0                # 1.0 = off
    min_p: float = 0.0                # 0.0 = off
    repetition_penalty: float = 1.0   # 1.0 = off
    no_repeat_ngram_size: int = 0     # 0 = off
    num_beams: int = 1                # > 1: beam search (deterministic; temperature is ignored)
    length_penalty: float = 1.0       # beam scores are divided by length ** length_penalty
    eos_id: int | None = None         # a row stops after emitting it
    use_cache: bool = True

    def __post_init__(self):
        if self.max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be ≥ 0, got {self.max_new_tokens}")
        if self.num_beams < 1:
            raise ValueError(f"num_beams must be ≥ 1, got {self.num_beams}")
        self.processors()  # validates the processor settings

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def processors(self) -> list:
        """The logits processors these settings ask for, in Hugging Face's order."""
        sampling = not self.greedy and self.num_beams == 1
        return build_processors(
            temperature=self.temperature if sampling else 1.0,
            top_k=self.top_k if sampling else 0, top_p=self.top_p if sampling else 1.0,
            min_p=self.min_p if sampling else 0.0, repetition_penalty=self.repetition_penalty,
            no_repeat_ngram_size=self.no_repeat_ngram_size)


def pad_batch(seqs: list[list[int]], pad_id: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Token-id lists -> ids (B, T) padded with pad_id on the left (prompts: the next token goes right
    after the last real one) or the right (encoder inputs), and mask (B, T), False on pads."""
    if not seqs or any(len(s) == 0 for s in seqs):
        raise ValueError(f"every {'prompt' if left else 'source'} needs at least one token")
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), T), dtype=torch.bool)
    for i, s in enumerate(seqs):
        cols = slice(T - len(s), T) if left else slice(0, len(s))
        ids[i, cols] = torch.tensor(s, dtype=torch.long)
        mask[i, cols] = True
    return ids, mask


def left_pad(prompts: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompts left-padded (see pad_batch)."""
    return pad_batch(prompts, pad_id, left=True)


def positions_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """(B, T) padding mask -> (B, T) positions counted from each row's first real token (pads get 0)."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


class LMStepper:
    """Runs a decoder-only model step by step: `prefill()` the prompt, then `step(tokens)`.

    With use_cache the keys and values live in a pre-allocated KVCache; once the sequence would
    outgrow the context, each step instead re-encodes the last max_seq_len tokens (what the
    uncached path does throughout), so long generations keep going.
    """

    def __init__(self, model, ids: torch.Tensor, mask: torch.Tensor | None = None, use_cache: bool = True,
                 max_new_tokens: int = 0, backend: str | None = None):
        self.model, self.backend = model, backend
        self.context = model.cfg.max_seq_len
        self.ids = ids
        self.mask = mask if mask is not None and not bool(mask.all()) else None  # no pads: the fast path
        self.cache = None
        if use_cache:
            max_len = min(self.context, ids.size(1) + max(max_new_tokens, 1))
            self.cache = model.new_cache(ids.size(0), max_len)

    def _run(self, ids: torch.Tensor, positions, mask, cache) -> torch.Tensor:
        logits = self.model(ids, cache=cache, positions=positions, padding_mask=mask, last=True,
                            backend=self.backend)
        return logits[:, -1].float()  # (B, V)

    def _full(self) -> torch.Tensor:
        """Uncached: encode the last `context` tokens from scratch."""
        ids = self.ids[:, -self.context:]
        mask = None if self.mask is None else self.mask[:, -self.context:]
        positions = None if mask is None else positions_from_mask(mask)
        return self._run(ids, positions, mask, None)

    def prefill(self) -> torch.Tensor:
        if self.cache is None:
            return self._full()
        positions = None if self.mask is None else positions_from_mask(self.mask)
        return self._run(self.ids, positions, self.mask, self.cache)

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append tokens (B,) and return the logits (B, V) for the position after them."""
        self.ids = torch.cat([self.ids, tokens[:, None]], dim=1)
        if self.mask is not None:
            self.mask = torch.cat([self.mask, self.mask.new_ones(tokens.size(0), 1)], dim=1)
        if self.cache is not None and self.cache.length >= self.cache.max_len:
            self.cache = None  # the context is full: from here on, re-encode a sliding window
        if self.cache is None:
            return self._full()
        positions = None
        if self.mask is not None:
            positions = positions_from_mask(self.mask)[:, -1:]  # (B, 1)
        return self._run(tokens[:, None], positions, self.mask, self.cache)

    def reorder(self, index: torch.Tensor) -> None:
        """Keep rows `index` (beam search): ids, mask and cache alike."""
        self.ids = self.ids.index_select(0, index)
        if self.mask is not None:
            self.mask = self.mask.index_select(0, index)
        if self.cache is not None:
            self.cache.reorder(index)


@dataclass
class Step:
    """One decoding step for a batch: the chosen tokens and how likely they were."""
    tokens: torch.Tensor      # (B,) chosen ids (pad/eos for rows already finished)
    probs: torch.Tensor       # (B,) probability of the chosen token under the processed distribution
    top_ids: torch.Tensor     # (B, k) the most likely alternatives
    top_probs: torch.Tensor   # (B, k)
    finished: torch.Tensor    # (B,) bool: the row has ended (EOS or stop) with or before this token


StopFn = Callable[[int, list[int]], bool]  # (row, generated ids so far) -> stop this row?


@torch.no_grad()
def decode(stepper: LMStepper, cfg: GenerationConfig, generator: torch.Generator | None = None,
           stop: StopFn | None = None, n_top: int = 5, constraints: Sequence[Processor] = ()) -> Iterator[Step]:
    """Greedy or sampled decoding; yields one Step per generated position until every row ends.
    `constraints`: processors applied after cfg's (e.g. lmlab.generate.constraints)."""
    processors = cfg.processors() + list(constraints)
    B = stepper.ids.size(0)
    pad = cfg.eos_id if cfg.eos_id is not None else 0
    finished = torch.zeros(B, dtype=torch.bool, device=stepper.ids.device)
    generated: list[list[int]] = [[] for _ in range(B)]
    logits = stepper.prefill() if cfg.max_new_tokens else None
    for t in range(cfg.max_new_tokens):
        scores = apply_processors(processors, stepper.ids, logits)             # (B, V)
        probs = torch.softmax(scores, dim=-1)
        if cfg.greedy:
            tokens = scores.argmax(dim=-1)
        else:
            tokens = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        tokens = torch.where(finished, torch.full_like(tokens, pad), tokens)   # finished rows emit pads
        chosen = probs.gather(1, tokens[:, None]).squeeze(1)
        top = probs.topk(min(n_top, probs.size(-1)), dim=-1)
        for i in range(B):
            if not finished[i]:
                generated[i].append(int(tokens[i]))
                if (cfg.eos_id is not None and generated[i][-1] == cfg.eos_id) or (stop and stop(i, generated[i])):
                    finished[i] = True
        yield Step(tokens, chosen, top.indices, top.values, finished.clone())
        if bool(finished.all()) or t == cfg.max_new_tokens - 1:
            return
        logits = stepper.step(tokens)


@dataclass
class BeamResult:
    sequences: list[list[int]]   # per batch row, the best hypothesis (generated ids only)
    scores: list[float]          # its length-normalised log-probability


@torch.no_grad()
def beam_search(stepper: LMStepper, cfg: GenerationConfig, constraints: Sequence[Processor] = ()) -> BeamResult:
    """Beam search with K = cfg.num_beams; the stepper holds the prompts (B rows), and is expanded
    to B·K rows here (the beams of a prompt together, as `constraints` see them). Matches Hugging Face
    generate(num_beams=K, do_sample=False)."""
    K, n_new, eos = cfg.num_beams, cfg.max_new_tokens, cfg.eos_id
    processors = cfg.processors() + list(constraints)
    B = stepper.ids.size(0)
    device = stepper.ids.device
    stepper.reorder(torch.arange(B, device=device).repeat_interleave(K))     # (B·K) rows, beams of a row together
    running = torch.zeros(B, K, device=device)
    running[:, 1:] = -1e9                                                     # at first all beams are the same
    seqs = torch.zeros(B, K, 0, dtype=torch.long, device=device)              # generated tokens of running beams
    done_seqs: list[list[tuple[float, list[int]]]] = [[] for _ in range(B)]   # finished (score, ids), best first
    improvable = [True] * B
    if n_new == 0:
        return BeamResult([[] for _ in range(B)], [0.0] * B)
    logits = stepper.prefill()
    for t in range(n_new):
        logp = apply_processors(processors, stepper.ids, F.log_softmax(logits, dim=-1))  # (B·K, V)
        V = logp.size(-1)
        cand = (running[:, :, None] + logp.view(B, K, V)).view(B, K * V)      # (B, K·V)
        top_scores, top_idx = cand.topk(2 * K, dim=-1)                        # 2K: enough to keep K alive
        beam, token = top_idx // V, top_idx % V                               # (B, 2K)
        ends = torch.full_like(token, t == n_new - 1, dtype=torch.bool)       # the length limit ends them all
        if eos is not None:
            ends |= token == eos
        # finished hypotheses: only the K best candidates may finish (as in HF), scored with the length penalty
        for b in range(B):
            if not improvable[b]:
                continue
            for j in range(K):
                if ends[b, j]:
                    ids = seqs[b, beam[b, j]].tolist() + [int(token[b, j])]
                    done_seqs[b].append((float(top_scores[b, j]) / (t + 1) ** cfg.length_penalty, ids))
            done_seqs[b] = sorted(done_seqs[b], key=lambda s: -s[0])[:K]
        if t == n_new - 1:
            break
        # the K best candidates that did not end carry on
        alive = top_scores.masked_fill(ends, -1e9)
        keep = alive.topk(K, dim=-1).indices                                  # (B, K) into the 2K
        running = alive.gather(1, keep)
        src_beam = beam.gather(1, keep)
        new_tok = token.gather(1, keep)
        seqs = torch.cat([seqs.gather(1, src_beam[:, :, None].expand(-1, -1, seqs.size(2))),
                          new_tok[:, :, None]], dim=2)
        # stop a row when its best running beam, even at its current length, cannot beat the worst finished one
        for b in range(B):
            if improvable[b] and len(done_seqs[b]) == K:
                best_possible = float(running[b, 0]) / (t + 1) ** cfg.length_penalty
                improvable[b] = best_possible > done_seqs[b][-1][0]
        if not any(improvable):
            break
        rows = (src_beam + torch.arange(B, device=device)[:, None] * K).view(-1)  # (B·K,) rows of the stepper
        stepper.reorder(rows)
        logits = stepper.step(new_tok.view(-1))
    return BeamResult([d[0][1] for d in done_seqs], [d[0][0] for d in done_seqs])

"""Decoding an encoder-decoder model: the source is encoded once, the target grows token by token.

`Seq2SeqStepper` gives lmlab.generate.decoding's `decode` (greedy, sampling) and `beam_search` what
they need (`ids`, `prefill`, `step`, `reorder`), so translation gets the same engine as GPT. What
it caches:
- the encoder output (B, S, C): the source never changes while its translation is generated;
- each decoder layer's cross-attention keys and values, projected from it once (`memory_kv`);
- the decoder self-attention's KV cache, one new position per step.
Without the cache (`use_cache=False`) every step re-runs the decoder over the whole target so far
and re-projects the encoder output in every cross-attention; the tests hold both to the same tokens.
Beam search reorders everything along the batch: target ids, encoder output, source mask, the
cross-attention keys/values and the KV cache.

Sources of different lengths are right-padded; the padding is hidden from cross-attention by the
source mask, so a sentence gets the same translation alone or in a batch.
"""

from __future__ import annotations

import dataclasses

import torch

from lmlab.data.placeholders import c_format, mask_source, placeholders, restore, slot_tokens
from lmlab.errors import LmlabError
from lmlab.generate.constraints import PlaceholderConstraint
from lmlab.generate.decoding import GenerationConfig, pad_batch
from lmlab.generate.text import inference, stepper_ids


def right_pad(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sources right-padded (see decoding.pad_batch)."""
    return pad_batch(seqs, pad_id, left=False)


class Seq2SeqStepper:
    """Runs the decoder step by step over a fixed, encoded source (see the module docstring)."""

    def __init__(self, model, src_ids: torch.Tensor, src_mask: torch.Tensor | None = None, use_cache: bool = True,
                 max_new_tokens: int = 0, backend: str | None = None):
        self.model, self.backend = model, backend
        self.src_mask = src_mask if src_mask is not None and not bool(src_mask.all()) else None
        self.memory = model.encode(src_ids, self.src_mask, backend)                 # (B, S, C)
        B = src_ids.size(0)
        self.ids = torch.full((B, 1), model.cfg.bos_id, dtype=torch.long, device=src_ids.device)  # BOS
        self.memory_kv = self.cache = None
        if use_cache:
            self.memory_kv = model.memory_kv(self.memory)                           # per layer (B, H, S, D) × 2
            self.cache = model.new_cache(B, min(model.cfg.max_seq_len, max(max_new_tokens, 1)))

    def _run(self, ids: torch.Tensor) -> torch.Tensor:
        logits = self.model.decode(ids, self.memory, self.src_mask, memory_kv=self.memory_kv, cache=self.cache,
                                   last=True, backend=self.backend)
        return logits[:, -1].float()                                                 # (B, V)

    def prefill(self) -> torch.Tensor:
        return self._run(self.ids)

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append tokens (B,) and return the logits (B, V) for the position after them."""
        self.ids = torch.cat([self.ids, tokens[:, None]], dim=1)
        return self._run(self.ids if self.cache is None else tokens[:, None])

    def reorder(self, index: torch.Tensor) -> None:
        """Keep rows `index` (beam search): target ids, source, cross-attention keys/values and cache alike."""
        self.ids = self.ids.index_select(0, index)
        self.memory = self.memory.index_select(0, index)
        if self.src_mask is not None:
            self.src_mask = self.src_mask.index_select(0, index)
        if self.memory_kv is not None:
            self.memory_kv = [(k.index_select(0, index), v.index_select(0, index)) for k, v in self.memory_kv]
        if self.cache is not None:
            self.cache.reorder(index)


def budget(model, cfg: GenerationConfig) -> GenerationConfig:
    """cfg with the model's EOS, its max_new_tokens cut to what the decoder can hold (max_seq_len)."""
    return dataclasses.replace(cfg, eos_id=model.cfg.eos_id, max_new_tokens=min(cfg.max_new_tokens,
                                                                                model.cfg.max_seq_len))


def translate_ids(model, sources: list[list[int]], cfg: GenerationConfig, generator: torch.Generator | None = None,
                  backend: str | None = None, constraints=()) -> list[list[int]]:
    """Target ids (EOS and what follows dropped) for a batch of source id lists (each ending in EOS).
    The decoder may emit at most max_seq_len tokens, whatever cfg.max_new_tokens says."""
    cfg = budget(model, cfg)
    device = next(model.parameters()).device
    ids, mask = right_pad(sources, model.cfg.pad_id)
    with inference(model):
        stepper = Seq2SeqStepper(model, ids.to(device), mask.to(device), cfg.use_cache, cfg.max_new_tokens, backend)
        return stepper_ids(stepper, cfg, len(sources), generator, constraints=constraints)


def translate_texts(model, src_tok, tgt_tok, texts: list[str], cfg: GenerationConfig, batch_size: int = 32,
                    max_new_tokens: int | None = None, backend: str | None = None, placeholder_slots: int = 0,
                    keep_placeholders: bool = True) -> list[str]:
    """Translate texts in batches of similar length (sorted, then put back in order). Sources longer
    than the model's max_seq_len are cut to fit. max_new_tokens None: twice the source length + 10.

    placeholder_slots (the run's, 0 for runs trained before masking): the sources' placeholders become
    <ph0> … and come back after decoding (lmlab.data.placeholders). keep_placeholders: decode under
    PlaceholderConstraint, so each translation holds its source's placeholders, no more, no fewer."""
    eos, limit = model.cfg.eos_id, model.cfg.max_seq_len
    masked = [mask_source(t, placeholder_slots) for t in texts]
    encoded = [src_tok.encode(m)[:limit - 1] + [eos] for m, _ in masked]
    phs = [placeholders(t) for t in texts]
    slot_ids = [tgt_tok.tok.token_to_id(s) for s in slot_tokens(placeholder_slots)]
    if None in slot_ids:
        raise LmlabError(f"the target tokenizer lacks the reserved tokens {slot_tokens(placeholder_slots)[0]} … "
                         "that the run's config names (placeholder_slots); the run's files do not match")
    guard = PlaceholderConstraint(tgt_tok, eos, slot_ids) if keep_placeholders else None
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    out: list[str] = [""] * len(texts)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        n_new = max_new_tokens or 2 * max(len(encoded[i]) for i in rows) + 10
        run_cfg = budget(model, dataclasses.replace(cfg, max_new_tokens=n_new))
        constraints = () if guard is None else [guard.bind(
            [phs[i][placeholder_slots:] for i in rows], run_cfg.max_new_tokens, run_cfg.num_beams,
            [slot_ids[:len(masked[i][1])] for i in rows], [c_format(texts[i]) for i in rows])]
        for i, ids in zip(rows, translate_ids(model, [encoded[i] for i in rows], run_cfg, backend=backend,
                                              constraints=constraints)):
            out[i] = restore(tgt_tok.decode(ids), masked[i][1]) if placeholder_slots else tgt_tok.decode(ids)
    return out

"""Text in, text out: tokenise prompts, decode with lmlab.generate.decoding, detokenise, stream.

`stream_text` yields the new text of one prompt piece by piece as tokens arrive; `generate_text`
runs a batch of prompts (left-padded) with greedy, sampled or beam decoding. Stop strings end a
row as soon as its text contains one (the stop string is kept, anything after it dropped, as in
Hugging Face); the EOS token ends a row and is not shown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch

from lmlab.generate.decoding import GenerationConfig, LMStepper, StopFn, beam_search, decode, left_pad
from lmlab.nn.packed_linear import packed_linears


def decode_stream(tokenizer, ids: Iterator[int]) -> Iterator[str]:
    """Yield the new text as token ids arrive; a character whose UTF-8 bytes are split across byte-level
    tokens is held back until its last byte comes (bytes that never form a character show as U+FFFD)."""
    new: list[int] = []
    shown = ""
    for tok in ids:
        new.append(int(tok))
        text = tokenizer.decode(new)
        if text.endswith("\ufffd"):  # possibly an incomplete multi-byte character: wait for the rest
            continue
        yield text[len(shown):]
        shown = text
    text = tokenizer.decode(new)
    if len(text) > len(shown):
        yield text[len(shown):]


def cut_at_stop(text: str, stop_strings: Sequence[str]) -> tuple[str, bool]:
    """(text up to and including the earliest stop string, whether one was found)."""
    ends = [text.find(s) + len(s) for s in stop_strings if s and s in text]
    return (text[:min(ends)], True) if ends else (text, False)


def stop_on_strings(tokenizer, stop_strings: Sequence[str]) -> StopFn | None:
    """A decode() stop callback: True once a row's generated text contains a stop string."""
    if not any(stop_strings):
        return None
    return lambda row, ids: cut_at_stop(tokenizer.decode(ids), stop_strings)[1]


def _device(model) -> torch.device:
    return next(model.parameters()).device


def _until(ids: Iterator[int], eos_id: int | None) -> Iterator[int]:
    for tok in ids:
        if tok == eos_id:
            return
        yield tok


def stepper_ids(stepper, cfg: GenerationConfig, batch: int, generator: torch.Generator | None = None,
                stop: StopFn | None = None, constraints: Sequence = ()) -> list[list[int]]:
    """Each row's generated ids from a stepper (LM or encoder-decoder): beam search when cfg.num_beams > 1,
    else greedy or sampled decoding (with extra `constraints` processors); EOS and what follows dropped."""
    if cfg.num_beams > 1:
        out = beam_search(stepper, cfg, constraints).sequences
    else:
        out = [[] for _ in range(batch)]
        ended = [False] * batch
        for step in decode(stepper, cfg, generator, stop, constraints=constraints):
            for i, tok in enumerate(step.tokens.tolist()):
                if not ended[i]:  # after its end a row only receives pads
                    out[i].append(tok)
            ended = step.finished.tolist()
    return [o[:o.index(cfg.eos_id)] if cfg.eos_id is not None and cfg.eos_id in o else o for o in out]


@contextlib.contextmanager
def inference(model, pack_weights: bool = True):
    """Eval mode (restored afterwards) and, on CPU, linear layers from oneDNN-packed weights."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), packed_linears(model, enabled=pack_weights):
            yield
    finally:
        model.train(was_training)


def stream_steps(model, prompt_ids: list[int], cfg: GenerationConfig, generator: torch.Generator | None = None,
                 stop: StopFn | None = None, backend: str | None = None, pack_weights: bool = True):
    """decode() for one prompt: yields a Step per new token (greedy or sampling)."""
    idx = torch.tensor([prompt_ids], dtype=torch.long, device=_device(model))
    with inference(model, pack_weights):
        stepper = LMStepper(model, idx, None, cfg.use_cache, cfg.max_new_tokens, backend)
        yield from decode(stepper, cfg, generator, stop)


def stream_text(model, tokenizer, prompt_ids: list[int], cfg: GenerationConfig,
                generator: torch.Generator | None = None, stop_strings: Sequence[str] = (),
                backend: str | None = None) -> Iterator[str]:
    """Decode one prompt and yield the new text as it is produced (greedy or sampling)."""
    steps = stream_steps(model, prompt_ids, cfg, generator, stop_on_strings(tokenizer, stop_strings), backend)
    ids = (int(s.tokens[0]) for s in steps)
    shown = ""
    for piece in decode_stream(tokenizer, _until(ids, cfg.eos_id)):
        text, stopped = cut_at_stop(shown + piece, stop_strings)
        yield text[len(shown):]
        shown = text
        if stopped:
            return


def generate_ids(model, prompts: list[list[int]], cfg: GenerationConfig, generator: torch.Generator | None = None,
                 stop: StopFn | None = None, backend: str | None = None,
                 pack_weights: bool = True) -> list[list[int]]:
    """Generated ids (prompt excluded, EOS and what follows dropped) for a batch of prompts."""
    ids, mask = left_pad(prompts, pad_id=cfg.eos_id or 0)
    device = _device(model)
    with inference(model, pack_weights):
        stepper = LMStepper(model, ids.to(device), mask.to(device), cfg.use_cache, cfg.max_new_tokens, backend)
        return stepper_ids(stepper, cfg, len(prompts), generator, stop)


def generate_text(model, tokenizer, prompts: Sequence[str], cfg: GenerationConfig,
                  generator: torch.Generator | None = None, stop_strings: Sequence[str] = (),
                  backend: str | None = None) -> list[str]:
    """The generated continuation of each prompt (prompt not included)."""
    encoded = [tokenizer.encode(p) for p in prompts]
    outs = generate_ids(model, encoded, cfg, generator, stop_on_strings(tokenizer, stop_strings), backend)
    return [cut_at_stop(tokenizer.decode(o), stop_strings)[0] for o in outs]

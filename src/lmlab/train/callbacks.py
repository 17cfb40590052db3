"""`on_eval` callbacks the recipes hand the Trainer: samples from a language model, several in one."""

from __future__ import annotations

from pathlib import Path

import torch

from lmlab.data.tokenizers import TextTokenizer
from lmlab.generate.decoding import GenerationConfig
from lmlab.generate.text import generate_ids

SAMPLE_TOKENS = 200


def samples_writer(run_dir: Path, tokenizer: TextTokenizer, prompt: list[int], seed: int):
    """An on_eval callback: append a sample from the current model to samples.txt."""
    def on_eval(step: int, model) -> None:
        device = next(model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(seed)
        cfg = GenerationConfig(max_new_tokens=SAMPLE_TOKENS, temperature=0.8, eos_id=tokenizer.eos_id)
        new = generate_ids(model, [prompt], cfg, generator=gen)[0]
        with open(Path(run_dir) / "samples.txt", "a", encoding="utf-8") as f:
            f.write(f"=== step {step} ===\n{tokenizer.decode(prompt + new)}\n\n")
    return on_eval


def chain(*callbacks):
    """One on_eval callback that calls several (None skipped; their returned metrics merged)."""
    live = [f for f in callbacks if f is not None]
    return lambda step, model: {k: v for f in live for k, v in (f(step, model) or {}).items()}

"""Quick checks of a run's model: its validation loss on its own split, its outputs on a fixed batch."""

from __future__ import annotations

import torch
from torch import nn

from lmlab.data.corpora import load_text
from lmlab.data.lm import eval_batches, split_tokens
from lmlab.runs.run import Run
from lmlab.train.objectives import causal_lm


@torch.no_grad()
def lm_val_loss(model: nn.Module, run: Run, n_batches: int = 20, batch_size: int = 8) -> float | None:
    """Mean next-token loss of `model` on the validation split of a language-model run's corpus, or None
    when the corpus is not there (an import, or a moved file)."""
    if not run.has_corpus():
        return None
    tok = run.tokenizer()
    ids = torch.tensor(tok.encode(load_text(run.source)), dtype=torch.int32)
    _, val = split_tokens(ids, (run.meta.get("data") or {}).get("val_fraction", 0.1))
    model.eval()
    losses = [causal_lm(model, b)["loss"].item()
              for b in eval_batches(val, model.cfg.max_seq_len, batch_size, n_batches, seed=0)]
    return sum(losses) / len(losses)


@torch.no_grad()
def probe(model: nn.Module) -> torch.Tensor:
    """The model's output on a fixed random batch (2 × 16 tokens): the logits a merge or an import must keep
    (a pretraining BERT's masked-LM logits)."""
    cfg = model.cfg
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, cfg.vocab_size, (2, min(16, cfg.max_seq_len)), generator=g)
    out = model.eval()(ids)
    return getattr(out, "mlm_logits", out)

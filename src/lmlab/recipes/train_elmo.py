"""Pretrain ELMo's biLM (Peters et al. 2018) on a text corpus: words, characters, two LMs, one Trainer.

The corpus becomes a stream of words (lmlab.data.word_chars); the softmax vocabulary (the most frequent training
words, kept in vocab.txt) is fixed at the start. The loss is the sum of the forward and backward LMs'
cross-entropies; each evaluation logs both (val_fwd_nll, val_bwd_nll) and their perplexities (val_fwd_ppl,
val_bwd_ppl). The run folder: config.json, vocab.txt, model.safetensors, train_state.pt, metrics.jsonl, loss.png.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from lmlab.data.corpora import load_text
from lmlab.data.word_chars import WordCorpus, WordDataConfig, load_vocab
from lmlab.io.atomic import atomic_write_text
from lmlab.models.elmo import ElmoConfig
from lmlab.models.elmo.model import Elmo
from lmlab.runs.directory import prepare_run_dir
from lmlab.runs.run import Run, write_run_config
from lmlab.train.config import TrainConfig
from lmlab.train.objectives import bidirectional_lm
from lmlab.train.trainer import Trainer

VOCAB = "vocab.txt"


def train_elmo(data: str | None, model_cfg: ElmoConfig | None, train_cfg: TrainConfig,
               data_cfg: WordDataConfig | None, out: str | Path, *, resume: bool = False, overwrite: bool = False,
               quiet: bool = False, skip_bad: bool = False) -> dict[str, float]:
    """Train an Elmo into run directory `out`; returns the final evaluation. On resume the run's own corpus,
    model, data settings and vocabulary are used; only `train_cfg` may differ (e.g. more steps)."""
    run_dir = Path(out)
    vocab = None
    if resume:
        run = Run.open(run_dir, family="elmo")
        cfgs = run.configs("model", "data")
        model_cfg, data_cfg, data = cfgs["model"], cfgs["data"], run.corpus()
        vocab = load_vocab(run_dir / VOCAB)
    corpus = WordCorpus(load_text(data, skip_bad), data_cfg, model_cfg.max_chars, vocab)   # bad data costs nothing yet
    model_cfg = dataclasses.replace(model_cfg, vocab_size=len(corpus.vocab))
    train_data, val = corpus.batches(model_cfg.max_seq_len, train_cfg.batch_size, train_cfg.seed,
                                     train_cfg.eval_batches)

    prepare_run_dir(run_dir, resume=resume, overwrite=overwrite)
    if not resume:
        atomic_write_text(run_dir / VOCAB, "".join(w + "\n" for w in corpus.vocab))
    write_run_config(run_dir, "elmo", {"model": model_cfg, "train": train_cfg, "data": data_cfg}, source=data)
    torch.manual_seed(train_cfg.seed)
    model = Elmo(model_cfg)
    if not quiet:
        print(f"ELMo {model.num_parameters() / 1e6:.2f}M parameters | softmax vocab {len(corpus.vocab):,} | "
              f"{len(corpus.train_ids):,} train / {len(corpus.val_ids):,} val words")
    trainer = Trainer(model, bidirectional_lm, train_data, train_cfg, run_dir, eval_data=val, quiet=quiet)
    return trainer.fit(resume=resume)

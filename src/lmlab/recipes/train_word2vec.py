"""`lmlab train word2vec`: word vectors from a text corpus (Mikolov et al. 2013), in one go.

Lines become sentences of words (whitespace, characters or jieba), words under min_count are
dropped, and train.word2vec runs the C tool's SGD. The run folder holds config.json,
model.safetensors (input and output matrices), vocab.txt ("word count" per line, most frequent
first, the rows' order) and metrics.json (loss per epoch, words/s). Vectors leave with
`lmlab vectors export`. The numba engine saves a checkpoint (weights, and train_state.pt: epoch, job,
words done, each thread's generator) after every epoch and when the clock stops it, so `--resume`
continues a run, with more --epochs or after a --time_budget.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from lmlab.config import replace
from lmlab.data.corpora import load_text
from lmlab.data.words import Vocab, WordDataConfig, keep_probabilities, sentences
from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write_text
from lmlab.io.checkpoint import load_train_state, load_weights, save_checkpoint
from lmlab.io.word2vec_format import load_vocab, save_vocab
from lmlab.models.word2vec.config import Word2VecConfig, Word2VecTrainConfig
from lmlab.models.word2vec.model import Word2Vec
from lmlab.runs.directory import prepare_run_dir
from lmlab.runs.run import Run, write_run_config
from lmlab.train.word2vec import train_word2vec as train_loop


def _resume_point(out: str, train_cfg: Word2VecTrainConfig):
    """The run's model and data settings, corpus and train state, refused when it cannot continue."""
    if train_cfg.engine != "numba":
        raise LmlabError("only --engine numba continues a run (the torch engine trains in one go)")
    run = Run.open(out, family="word2vec")
    cfgs = run.configs("model", "data")
    state = load_train_state(out)
    if state["epoch"] >= train_cfg.epochs:
        raise LmlabError(f"{out} has trained all its {state['epoch']} epochs; give more --epochs to continue it")
    return cfgs["model"], cfgs["data"], run.corpus(), state


def train_word2vec(data: str, model_cfg: Word2VecConfig, train_cfg: Word2VecTrainConfig, data_cfg: WordDataConfig,
                   out: str, *, resume: bool, overwrite: bool, quiet: bool, skip_bad: bool = False, **_) -> dict:
    state = None
    if resume:
        model_cfg, data_cfg, data, state = _resume_point(out, train_cfg)
    sents = sentences(load_text(data, skip_bad), data_cfg)
    vocab = Vocab.build(sents, data_cfg.min_count, source=str(data))
    if resume and load_vocab(Path(out) / "vocab.txt") != vocab.words:
        raise LmlabError(f"cannot resume: the corpus {data} changed since the run started (its vocabulary is not "
                         f"{out}/vocab.txt); train a new run")
    ids, sid = vocab.encode(sents)
    model_cfg = replace(model_cfg, {"vocab_size": len(vocab.words)})
    torch.manual_seed(train_cfg.seed)  # the starting vectors too come from the run's seed
    model = Word2Vec(model_cfg)
    model.set_counts(vocab.counts)
    if resume:
        load_weights(out, model)
    run_dir = prepare_run_dir(out, resume, overwrite)
    write_run_config(run_dir, "word2vec", {"model": model_cfg, "train": train_cfg, "data": data_cfg}, source=data)
    if not resume:
        save_vocab(run_dir / "vocab.txt", vocab.words, vocab.counts)
    checkpoint = lambda st: save_checkpoint(run_dir, model, step=st["done"], state=st)  # noqa: E731
    numba = train_cfg.engine == "numba"
    stats = train_loop(model, ids, sid, keep_probabilities(vocab.counts, data_cfg.sample), train_cfg, quiet=quiet,
                       state=state, on_epoch=checkpoint if numba else None)
    if numba:
        checkpoint(stats.state)
    else:
        save_checkpoint(run_dir, model, step=stats.pairs)
    metrics = {"epoch_loss": stats.epoch_loss, "words": stats.words, "pairs": stats.pairs,
               "seconds": stats.seconds, "words_per_s": stats.words_per_s, "vocab_size": len(vocab.words),
               "corpus_words": int(len(ids)), "stopped_early": stats.stopped_early, "resumed": resume}
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    if not quiet:
        print(f"{len(vocab.words)} words, {len(ids)} tokens; {stats.words_per_s:,.0f} words/s; "
              f"loss per example {stats.epoch_loss[0]:.3f} -> {stats.epoch_loss[-1]:.3f}")
    return {"loss": stats.epoch_loss[-1]}

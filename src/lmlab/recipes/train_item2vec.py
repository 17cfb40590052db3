"""`lmlab train item2vec`: item vectors from baskets (Barkan & Koenigstein 2016, "Item2Vec").

Skip-gram with negative sampling where a basket — a Debian package with its dependencies
(lmlab.data.baskets) — is a sentence and every other item of the basket is context: the window
is the whole basket and is not shrunk (order carries no meaning in a basket). Writes the same run
folder as word2vec (config.json, model.safetensors, vocab.txt, metrics.json) plus sections.json
(item -> Debian section), so `lmlab similar RUN python3-numpy` works.
"""

from __future__ import annotations

import dataclasses
import json

import torch

from lmlab.config import replace
from lmlab.data.baskets import BasketDataConfig, read_baskets
from lmlab.data.words import Vocab, keep_probabilities
from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write_text
from lmlab.io.checkpoint import save_weights
from lmlab.io.word2vec_format import save_vocab
from lmlab.models.word2vec.config import Word2VecConfig, Word2VecTrainConfig
from lmlab.models.word2vec.model import Word2Vec
from lmlab.runs.directory import prepare_run_dir
from lmlab.runs.run import write_run_config
from lmlab.train.word2vec import train_word2vec


def train_item2vec(data: str, model_cfg: Word2VecConfig, train_cfg: Word2VecTrainConfig, data_cfg: BasketDataConfig,
                   out: str, *, resume: bool, overwrite: bool, quiet: bool, skip_bad: bool = False, **_) -> dict:
    if resume:
        raise LmlabError("item2vec trains in one go and cannot be resumed; train again with more --epochs")
    if model_cfg.arch != "skipgram":
        raise LmlabError("Item2Vec is skip-gram over baskets; drop --arch cbow")
    got = read_baskets(data, dataclasses.replace(data_cfg, skip_bad=data_cfg.skip_bad or skip_bad))
    vocab = Vocab.build(got.baskets, data_cfg.min_count, source=str(data))
    ids, sid = vocab.encode(got.baskets)
    longest = max(len(b) for b in got.baskets)
    model_cfg = replace(model_cfg, {"vocab_size": len(vocab.words), "window": max(longest - 1, 1)})
    torch.manual_seed(train_cfg.seed)  # the starting vectors too come from the run's seed
    model = Word2Vec(model_cfg)
    model.set_counts(vocab.counts)
    run_dir = prepare_run_dir(out, resume, overwrite)
    write_run_config(run_dir, "item2vec", {"model": model_cfg, "train": train_cfg, "data": data_cfg}, source=data)
    save_vocab(run_dir / "vocab.txt", vocab.words, vocab.counts)
    sections = {w: got.sections.get(w, "") for w in vocab.words}
    atomic_write_text(run_dir / "sections.json", json.dumps(sections, indent=0, ensure_ascii=False) + "\n")
    stats = train_word2vec(model, ids, sid, keep_probabilities(vocab.counts, data_cfg.sample), train_cfg,
                           shrink=False, quiet=quiet)
    save_weights(run_dir, model, step=stats.pairs)
    metrics = {"epoch_loss": stats.epoch_loss, "items": stats.words, "pairs": stats.pairs, "seconds": stats.seconds,
               "vocab_size": len(vocab.words), "baskets": len(got.baskets), **got.counts}
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    if not quiet:
        c = got.counts
        print(f"{len(got.baskets)} baskets ({c['no_dependencies']} without dependencies, no pairs); dependencies: "
              f"{c['real']} real, {c['virtual_resolved']} virtual resolved through provides, {c['virtual_dropped']} "
              f"virtual dropped (several or no providers); {len(vocab.words)} items; "
              f"loss {stats.epoch_loss[0]:.3f} -> {stats.epoch_loss[-1]:.3f}")
    return {"loss": stats.epoch_loss[-1]}

"""The word2vec training loop (the C tool's, batched): epochs of sub-sampled text, a window shrunk at
random per centre word, plain SGD with the rate decayed linearly from lr to min_lr over all epochs.

word2vec has no use for the generic Trainer (no autograd, no optimizer state, no validation loss):
the model updates its own rows (lmlab.models.word2vec.model). The loop is shared by word2vec on
text and Item2Vec on baskets (a basket is a sentence whose window is the whole basket).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from lmlab.data.words import subsample, window_pairs
from lmlab.models.word2vec.config import Word2VecTrainConfig
from lmlab.models.word2vec.model import Word2Vec


@dataclass
class TrainStats:
    words: int = 0              # centre words trained on (after sub-sampling), all epochs
    pairs: int = 0              # (input, predicted word) examples
    seconds: float = 0.0
    epoch_loss: list[float] = field(default_factory=list)   # mean loss per example, per epoch
    stopped_early: bool = False

    @property
    def words_per_s(self) -> float:
        return self.words / max(self.seconds, 1e-9)


def train_word2vec(model: Word2Vec, ids: np.ndarray, sid: np.ndarray, keep: np.ndarray,
                   cfg: Word2VecTrainConfig, *, shrink: bool = True, quiet: bool = True) -> TrainStats:
    """Train `model` in place on the corpus `ids` (N,) with sentence numbers `sid` (N,); `keep` (V,) are the
    sub-sampling keep probabilities. shrink=False uses the whole window every time (Item2Vec)."""
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    window, skipgram = model.cfg.window, model.cfg.arch == "skipgram"
    stats, total = TrainStats(), cfg.epochs * len(ids)
    bar = tqdm(total=total, disable=quiet, unit="w", unit_scale=True, dynamic_ncols=True)
    start_time = time.perf_counter()
    for epoch in range(cfg.epochs):
        e_ids, e_sid = subsample(ids, sid, keep, rng)
        loss_sum, n_ex = 0.0, 0
        for start in range(0, len(e_ids), cfg.batch_size):
            stop = min(start + cfg.batch_size, len(e_ids))
            done = epoch * len(ids) + start * len(ids) / max(len(e_ids), 1)      # raw words so far
            lr = cfg.lr - (cfg.lr - cfg.min_lr) * done / total
            centre, ctx, ok = window_pairs(e_sid, start, stop, window, rng if shrink else None)
            if skipgram:  # the C tool's order: the context word's vector predicts the centre word
                inputs = torch.from_numpy(e_ids[ctx[ok]])
                words = torch.from_numpy(e_ids[np.broadcast_to(centre[:, None], ok.shape)[ok]])
                loss_sum += model.skipgram_step(inputs, words, lr, gen)
                n_ex += len(words)
            else:
                rows = ok.any(1)
                context = torch.from_numpy(e_ids[np.where(ok, ctx, 0)[rows]])
                mask = torch.from_numpy(ok[rows].astype(np.float32))
                words = torch.from_numpy(e_ids[centre[rows]])
                loss_sum += model.cbow_step(context, mask, words, lr, gen)
                n_ex += len(words)
            stats.words += stop - start
            bar.update(round((stop - start) * len(ids) / max(len(e_ids), 1)))
            if cfg.time_budget is not None and time.perf_counter() - start_time > cfg.time_budget:
                stats.stopped_early = True
                break
        stats.pairs += n_ex
        stats.epoch_loss.append(loss_sum / max(n_ex, 1))
        bar.set_postfix(epoch=epoch + 1, loss=f"{stats.epoch_loss[-1]:.4f}")
        if stats.stopped_early:
            break
    stats.seconds = time.perf_counter() - start_time
    bar.close()
    return stats

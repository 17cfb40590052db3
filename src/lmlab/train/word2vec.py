"""The word2vec training loop (the C tool's): epochs of sub-sampled text, a window shrunk at random per
centre word, plain SGD with the rate decayed linearly from lr to min_lr by the words processed.

word2vec has no use for the generic Trainer (no autograd, no optimizer state, no validation loss): the
model's rows are updated by hand. Two engines:
- numba (the default): gensim's scheme. The corpus is cut into jobs of whole sentences (~10,000 words);
  `workers` Python threads take the next job in turn and run it in the compiled per-pair kernel
  (lmlab.models.word2vec.kernel), which releases the GIL, on the same weights without locks — Hogwild
  (Recht et al. 2011). The rate of a job is set from the words of all finished jobs, as gensim does.
- torch: the batched update of lmlab.models.word2vec.model, `workers` processes on shards of the corpus
  and weights in shared memory.
The loop is shared by word2vec on text and Item2Vec on baskets (a basket is a sentence whose window
is the whole basket).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from lmlab.data.words import subsample, window_pairs
from lmlab.errors import LmlabError
from lmlab.models.word2vec.config import Word2VecTrainConfig
from lmlab.models.word2vec.model import Word2Vec


@dataclass
class TrainStats:
    words: int = 0              # centre words trained on (after sub-sampling), in this call
    pairs: int = 0              # (input, predicted word) examples, in this call
    seconds: float = 0.0
    epoch_loss: list[float] = field(default_factory=list)   # mean loss per example, per epoch (all epochs)
    stopped_early: bool = False
    state: dict | None = None   # engine numba: where the run stands (train_word2vec's `state` to continue)

    @property
    def words_per_s(self) -> float:
        return self.words / max(self.seconds, 1e-9)


def _train_shard(model: Word2Vec, ids, sid, keep, cfg: Word2VecTrainConfig, shrink: bool, seed: int,
                 done=None, start_time: float | None = None) -> tuple[int, list[float], list[int], bool]:
    """Train on one shard: returns words, loss sums and example counts per epoch, stopped early."""
    torch.set_num_threads(1)
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    window, skipgram = model.cfg.window, model.cfg.arch == "skipgram"
    start_time = start_time or time.perf_counter()
    total, words, losses, examples = cfg.epochs * len(ids), 0, [], []
    for epoch in range(cfg.epochs):
        e_ids, e_sid = subsample(ids, sid, keep, rng)
        loss_sum, n_ex, scale = 0.0, 0, len(ids) / max(len(e_ids), 1)
        for start in range(0, len(e_ids), cfg.batch_size):
            stop = min(start + cfg.batch_size, len(e_ids))
            lr = cfg.lr - (cfg.lr - cfg.min_lr) * (epoch * len(ids) + start * scale) / total
            centre, ctx, ok = window_pairs(e_sid, start, stop, window, rng if shrink else None)
            rows = ok.any(1)  # centres with at least one context word
            context = torch.from_numpy(e_ids[np.where(ok, ctx, 0)[rows]])                 # (B, 2W)
            mask = torch.from_numpy(ok[rows].astype(np.float32))                         # (B, 2W)
            target = torch.from_numpy(e_ids[centre[rows]])                               # (B,)
            step = model.skipgram_step if skipgram else model.cbow_step
            loss_sum += step(context, mask, target, lr, gen)
            n_ex += int(mask.sum()) if skipgram else len(target)
            words += stop - start
            if done is not None:
                with done.get_lock():
                    done.value += round((stop - start) * scale)
            if cfg.time_budget is not None and time.perf_counter() - start_time > cfg.time_budget:
                return words, losses + [loss_sum], examples + [n_ex], True
        losses.append(loss_sum)
        examples.append(n_ex)
    return words, losses, examples, False


def _worker(model, shard, keep, cfg, shrink, seed, done, start_time, queue) -> None:
    try:
        queue.put(_train_shard(model, *shard, keep, cfg, shrink, seed, done, start_time))
    except BaseException as e:  # the parent reports it
        queue.put(f"{type(e).__name__}: {e}")


JOB_WORDS = 10_000  # gensim's and the C tool's unit of work: a job's rate is fixed, the clock read after it


def jobs(sid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sentence bounds (S+1,) into the corpus, and the jobs (J+1,): job j is sentences jobs[j]..jobs[j+1]-1,
    the sentences that start in the same block of JOB_WORDS words."""
    bounds = np.concatenate([np.flatnonzero(np.diff(sid, prepend=-1)), [len(sid)]])
    first = np.flatnonzero(np.diff(bounds[:-1] // JOB_WORDS, prepend=-1))
    return bounds, np.concatenate([first, [len(bounds) - 1]])


def kernel_tables(model: Word2Vec) -> tuple:
    """What the kernel draws its output rows from, as numpy: Huffman points, labels and path lengths
    (hs; else empty), and the noise alias table (neg; else empty)."""
    if model.cfg.loss == "hs":
        none = np.zeros(0, np.float32), np.zeros(0, np.int64)
        return (model.points.numpy(), model.labels.numpy(), model.mask.sum(1).long().numpy(), *none)
    return (np.zeros((0, 1), np.int64), np.zeros((0, 1), np.float32), np.zeros(0, np.int64),
            model.accept.numpy(), model.alias.numpy())


def start_state() -> dict:
    """Where a numba run stands, all a --resume needs besides the weights: the next epoch and job, the words
    done (they set the rate), each thread's generator (seeded from the run's seed), the partial epoch's sums
    (words, examples, loss) and the loss of each finished epoch."""
    return {"epoch": 0, "job": 0, "done": 0, "rng": [], "sums": [0, 0, 0.0], "epoch_loss": []}


def _train_numba(model: Word2Vec, ids, sid, keep, cfg: Word2VecTrainConfig, shrink: bool, quiet: bool,
                 state: dict | None, on_epoch) -> TrainStats:
    from lmlab.models.word2vec.kernel import train_job
    tables, (bounds, job) = kernel_tables(model), jobs(sid)
    inputs, outputs = model.in_emb.data.numpy(), model.out_emb.data.numpy()    # the threads write here
    keep = np.asarray(keep, dtype=np.float64)
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    m, total, n_jobs = model.cfg, cfg.epochs * len(ids), len(job) - 1
    state = {**start_state(), **(state or {})}
    rngs = [np.array([s], np.uint64) for s in state["rng"]][:cfg.workers]
    rngs += [np.random.default_rng([cfg.seed, k]).integers(1, 1 << 48, size=1).astype(np.uint64)
             for k in range(len(rngs), cfg.workers)]
    lock = threading.Lock()
    shared = {"done": state["done"], "next": state["job"], "stop": False, "errors": []}
    stats, start = TrainStats(), time.perf_counter()
    bar = tqdm(total=total, initial=min(state["done"], total), disable=quiet, unit="w", unit_scale=True,
               dynamic_ncols=True)

    def work(k: int, sums: list) -> None:
        try:
            while True:
                with lock:
                    j = shared["next"]
                    if j >= n_jobs or shared["stop"]:
                        return
                    shared["next"] += 1
                    lr = max(cfg.lr - (cfg.lr - cfg.min_lr) * shared["done"] / total, cfg.min_lr)
                got = train_job(inputs, outputs, ids, bounds[job[j]:job[j + 1] + 1], keep, m.arch == "skipgram",
                                m.window, shrink, *tables, m.negative, lr, rngs[k])
                with lock:
                    shared["done"] += int(bounds[job[j + 1]] - bounds[job[j]])
                    sums[:] = [a + b for a, b in zip(sums, got, strict=True)]
                    stats.words, stats.pairs = stats.words + got[0], stats.pairs + got[1]
                    if cfg.time_budget is not None and time.perf_counter() - start > cfg.time_budget:
                        shared["stop"] = True
        except BaseException as e:  # the main thread raises it
            shared["errors"].append(e)
            shared["stop"] = True

    epoch_loss = list(state["epoch_loss"])
    for epoch in range(state["epoch"], cfg.epochs):
        sums = list(state["sums"]) if epoch == state["epoch"] else [0, 0, 0.0]      # words, examples, loss
        threads = [threading.Thread(target=work, args=(k, sums), daemon=True) for k in range(cfg.workers)]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)
                bar.update(min(shared["done"], total) - bar.n)
        if shared["errors"]:
            raise shared["errors"][0]
        finished = shared["next"] >= n_jobs
        state = {"epoch": epoch + finished, "job": 0 if finished else shared["next"], "done": shared["done"],
                 "rng": [int(r[0]) for r in rngs], "sums": [0, 0, 0.0] if finished else sums,
                 "epoch_loss": epoch_loss + [sums[2] / max(sums[1], 1)] * finished}
        epoch_loss = state["epoch_loss"]
        if not finished:  # stopped by the clock: the partial epoch's loss is reported, not recorded
            stats.epoch_loss, stats.stopped_early = epoch_loss + [sums[2] / max(sums[1], 1)], True
            break
        shared["next"] = 0
        if on_epoch is not None:
            on_epoch(state)
        if shared["stop"] and epoch < cfg.epochs - 1:
            stats.epoch_loss, stats.stopped_early = list(epoch_loss), True
            break
    else:
        stats.epoch_loss = list(epoch_loss)
    bar.update(total - bar.n)
    bar.close()
    stats.seconds, stats.state = time.perf_counter() - start, state
    return stats


def train_word2vec(model: Word2Vec, ids: np.ndarray, sid: np.ndarray, keep: np.ndarray,
                   cfg: Word2VecTrainConfig, *, shrink: bool = True, quiet: bool = True, state: dict | None = None,
                   on_epoch=None) -> TrainStats:
    """Train `model` in place on the corpus `ids` (N,) with sentence numbers `sid` (N,); `keep` (V,) are the
    sub-sampling keep probabilities. shrink=False uses the whole window every time (Item2Vec). Engine numba
    only: `state` (stats.state of an earlier run) continues where it stopped, and `on_epoch(state)` is
    called after each epoch (to save a checkpoint)."""
    if cfg.engine == "numba":
        return _train_numba(model, ids, sid, keep, cfg, shrink, quiet, state, on_epoch)
    if state is not None:
        raise LmlabError("engine torch trains in one go and cannot continue a run; use --engine numba")
    import torch.multiprocessing as mp
    n = cfg.workers
    bounds = np.linspace(0, len(ids), n + 1).astype(int)
    shards = [(ids[a:b], sid[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    ctx = mp.get_context("fork")
    done = ctx.Value("q", 0)
    start_time = time.perf_counter()
    bar = tqdm(total=cfg.epochs * len(ids), disable=quiet, unit="w", unit_scale=True, dynamic_ncols=True)
    if n == 1:
        threads = torch.get_num_threads()
        try:
            results = [_train_shard(model, *shards[0], keep, cfg, shrink, cfg.seed, None, start_time)]
        finally:
            torch.set_num_threads(threads)
    else:
        model.in_emb.share_memory_()
        model.out_emb.share_memory_()
        queue = ctx.SimpleQueue()
        procs = [ctx.Process(target=_worker, args=(model, shard, keep, cfg, shrink, cfg.seed + k, done, start_time,
                                                   queue), daemon=True) for k, shard in enumerate(shards)]
        for p in procs:
            p.start()
        results = []
        while len(results) < n:
            if not queue.empty():
                results.append(queue.get())
                continue
            if not any(p.is_alive() for p in procs) and queue.empty():
                raise LmlabError("a word2vec worker process died (out of memory?)")
            bar.update(done.value - bar.n)
            time.sleep(0.2)
        for p in procs:
            p.join()
        failed = [r for r in results if isinstance(r, str)]
        if failed:
            raise RuntimeError(f"a word2vec worker failed: {failed[0]}")
    bar.update(cfg.epochs * len(ids) - bar.n)
    bar.close()
    stats = TrainStats(seconds=time.perf_counter() - start_time, words=sum(r[0] for r in results),
                       stopped_early=any(r[3] for r in results))
    for epoch in range(max(len(r[1]) for r in results)):
        loss = sum(r[1][epoch] for r in results if epoch < len(r[1]))
        count = sum(r[2][epoch] for r in results if epoch < len(r[2]))
        stats.epoch_loss.append(loss / max(count, 1))
        stats.pairs += count
    return stats

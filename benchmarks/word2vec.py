"""word2vec, lmlab against gensim 4: training words/s and vector quality, same corpus, settings, epochs.

    python benchmarks/word2vec.py --arch skipgram --seeds 1,2,3      # ~all bundled English text, 5 epochs
    python benchmarks/word2vec.py --arch cbow --seeds 1,2,3
    python benchmarks/word2vec.py --quick                            # WikiText-2 valid only, 1 epoch

Corpus: Tiny Shakespeare + WikiText-2 valid + test (the bundled English text), split into lines of
whitespace words by lmlab.data.words (gensim gets the very same lists). Settings: dim 100, window 5,
negative 5, min_count 5, sample 1e-3, lr 0.025 -> 0.0001 linearly, --epochs (5) — gensim's defaults.
gensim trains with --workers (2) threads; lmlab with --lmlab_workers (2) threads (Hogwild) running its
per-pair numba kernel (--engine numba; --engine torch: the batched update, --batch_size centre words per
update, in processes). For each seed, gensim and lmlab run one after the other in this process (the order
alternating), so a busy machine slows both alike. Reported per contestant: effective words/s (words
after sub-sampling, per second of training; gensim's own count), Spearman's rho on gensim's
wordsim353.tsv and 3CosAdd accuracy on questions-words.txt (lmlab.tools.word_vectors, equal to
gensim's evaluators — tests/parity), with vocabulary coverage; mean ± std over seeds; and the ratio of
lmlab's median words/s to gensim's. Multiply-adds per word: 3·C per output row per example (a score, the
input's step, the row's step), rows = 1 + negative or the Huffman path (its mean over the trained words),
plus for CBOW the window's mean and the step back to each context word.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time

import numpy as np

from lmlab.data.corpora import load_text
from lmlab.data.words import Vocab, WordDataConfig, keep_probabilities, sentences, subsample, window_pairs
from lmlab.models.word2vec.config import Word2VecConfig, Word2VecTrainConfig
from lmlab.models.word2vec.huffman import huffman_codes
from lmlab.models.word2vec.model import Word2Vec
from lmlab.models.word2vec.presets import multiply_adds_per_pair
from lmlab.tools.word_vectors import WordVectors
from lmlab.train.word2vec import train_word2vec

WIKI = "/work/shared/data/wikitext-2/"


def corpus(quick: bool) -> str:
    if quick:
        return load_text(WIKI + "valid.txt")
    return "\n".join([load_text("tinyshakespeare"), load_text(WIKI + "valid.txt"), load_text(WIKI + "test.txt")])


def evaluate(words, vectors) -> dict:
    from gensim.test.utils import datapath
    wv = WordVectors(words, vectors)
    pairs = wv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    analogies = wv.evaluate_word_analogies(datapath("questions-words.txt"))
    return {"spearman": pairs["spearman"], "pairs_oov_percent": pairs["oov_percent"],
            "analogy": analogies["accuracy"], "analogy_coverage": analogies["coverage"]}


def cpu_seconds() -> float:
    """CPU time of this process's threads and of its finished child processes (lmlab's workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run_gensim(sents, args, seed: int) -> dict:
    from gensim.models import Word2Vec as GensimWord2Vec
    model = GensimWord2Vec(vector_size=args.dim, window=args.window, negative=0 if args.loss == "hs" else 5,
                           hs=int(args.loss == "hs"), sg=int(args.arch == "skipgram"), min_count=args.min_count,
                           sample=1e-3, workers=args.workers, seed=seed, epochs=args.epochs)
    model.build_vocab(sents)
    start, cpu = time.perf_counter(), cpu_seconds()
    effective, _raw = model.train(sents, total_examples=model.corpus_count, epochs=args.epochs)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    return {"words_per_s": effective / seconds, "seconds": seconds, "words_per_cpu_s": effective / cpu,
            **evaluate(model.wv.index_to_key, model.wv.vectors)}


def run_lmlab(sents, vocab, ids, sid, args, seed: int) -> dict:
    import torch
    torch.manual_seed(seed)
    model = Word2Vec(Word2VecConfig(arch=args.arch, loss=args.loss, dim=args.dim, window=args.window,
                                    vocab_size=len(vocab.words)))
    model.set_counts(vocab.counts)
    cfg = Word2VecTrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=seed, workers=args.lmlab_workers,
                              engine=args.engine)
    cpu = cpu_seconds()
    stats = train_word2vec(model, ids, sid, keep_probabilities(vocab.counts, 1e-3), cfg)
    cpu = cpu_seconds() - cpu
    return {"words_per_s": stats.words_per_s, "seconds": stats.seconds, "words_per_cpu_s": stats.words / cpu,
            "pairs_per_word": stats.pairs / stats.words,
            **evaluate(vocab.words, model.in_emb.numpy())}


def multiply_adds_per_word(vocab, ids, sid, args, examples_per_word: float) -> float:
    """3·C per output row per example, rows = 1 + negative or the mean Huffman path of the trained words
    (counts after sub-sampling); CBOW adds 2·C per context word (its share of the mean, and its step), the
    context words per centre counted on one sub-sampled epoch with shrunk windows."""
    trained = vocab.counts * keep_probabilities(vocab.counts, 1e-3)
    mean_path = float((trained * np.array([len(c) for c in huffman_codes(vocab.counts)[0]])).sum() / trained.sum())
    per_example = multiply_adds_per_pair(Word2VecConfig(arch=args.arch, loss=args.loss, dim=args.dim), mean_path)
    if args.arch == "skipgram":
        return per_example * examples_per_word
    rng = np.random.default_rng(0)
    e_ids, e_sid = subsample(ids, sid, keep_probabilities(vocab.counts, 1e-3), rng)
    context = window_pairs(e_sid, 0, len(e_ids), args.window, rng)[2].sum() / len(e_ids)
    return (per_example + 2 * args.dim * context) * examples_per_word


def mean_std(xs: list[float]) -> str:
    return f"{statistics.mean(xs):.4f} ± {statistics.stdev(xs) if len(xs) > 1 else 0.0:.4f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", choices=("skipgram", "cbow"), default="skipgram")
    p.add_argument("--loss", choices=("neg", "hs"), default="neg")
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--min_count", type=int, default=5)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--workers", type=int, default=2, help="gensim's worker threads")
    p.add_argument("--lmlab_workers", type=int, default=2, help="lmlab's worker threads (processes for torch)")
    p.add_argument("--engine", choices=("numba", "torch"), default="numba")
    p.add_argument("--batch_size", type=int, default=256, help="lmlab's centre words per update (engine torch)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    if args.quick:
        args.epochs = 1
    sents = [s for s in sentences(corpus(args.quick), WordDataConfig()) if s]
    vocab = Vocab.build(sents, args.min_count)
    ids, sid = vocab.encode(sents)
    print(f"corpus: {len(ids):,} words in the vocabulary of {len(vocab.words):,} (min_count {args.min_count}); "
          f"{args.arch}/{args.loss}, dim {args.dim}, window {args.window}, {args.epochs} epochs; "
          f"{platform.processor() or platform.machine()}; load average {os.getloadavg()[0]:.2f}")
    results: dict[str, list[dict]] = {"gensim": [], "lmlab": []}
    for n, seed in enumerate(int(s) for s in args.seeds.split(",")):
        order = ["gensim", "lmlab"] if n % 2 == 0 else ["lmlab", "gensim"]
        for name in order:
            r = run_gensim(sents, args, seed) if name == "gensim" else run_lmlab(sents, vocab, ids, sid, args, seed)
            results[name].append(r)
            print(f"seed {seed} {name:6s}: {r['words_per_s']:>9,.0f} words/s ({r['seconds']:.1f} s), "
                  f"{r['words_per_cpu_s']:>9,.0f} words/CPU-s, "
                  f"wordsim353 rho {r['spearman']:.4f}, analogy {r['analogy']:.4f}", flush=True)
    print(f"\n{'':8s} {'words/s (median)':>17s}  {'words/CPU-s':>12s}  {'wordsim353 rho':>18s}  "
          f"{'analogy accuracy':>18s}")
    for name, rs in results.items():
        print(f"{name:8s} {statistics.median(r['words_per_s'] for r in rs):>17,.0f}  "
              f"{statistics.median(r['words_per_cpu_s'] for r in rs):>12,.0f}  "
              f"{mean_std([r['spearman'] for r in rs]):>18s}  {mean_std([r['analogy'] for r in rs]):>18s}")
    ratio = (statistics.median(r["words_per_s"] for r in results["lmlab"])
             / statistics.median(r["words_per_s"] for r in results["gensim"]))
    cpu_ratio = (statistics.median(r["words_per_cpu_s"] for r in results["lmlab"])
                 / statistics.median(r["words_per_cpu_s"] for r in results["gensim"]))
    first = results["lmlab"][0]
    ppw = first["pairs_per_word"]
    macs = multiply_adds_per_word(vocab, ids, sid, args, ppw)
    print(f"lmlab / gensim words/s: {ratio:.2f} (per CPU-second: {cpu_ratio:.2f}); coverage: wordsim353 pairs {100 - first['pairs_oov_percent']:.1f}% "
          f"in vocabulary, analogies {first['analogy_coverage']:.1%}; {ppw:.2f} examples per word, "
          f"~{macs:,.0f} multiply-adds per word; load average now {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results, "ratio": ratio, "cpu_ratio": cpu_ratio}, f, indent=2)


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()

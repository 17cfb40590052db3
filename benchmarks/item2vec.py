"""Item2Vec on the Debian package index: lmlab against gensim's Word2Vec on the same baskets, and the
co-occurrence baseline (PPMI + truncated SVD), by precision@10 of the Debian section.

    python benchmarks/item2vec.py                       # /work/shared/data/debian/packages.jsonl, 5 epochs
    python benchmarks/item2vec.py --seeds 1,2,3 --epochs 5 --ppmi      # and the co-occurrence baseline (~2 min)

Baskets: lmlab.data.baskets (a package and its dependencies; virtual names resolved through
`provides` or dropped). Items in at least --min_count (5) baskets. Both skip-gram models: dim 100,
negative 5, sample 1e-3, the window the whole basket, not shrunk (gensim: shrink_windows=False),
lr 0.025 -> 0.0001, 2 worker threads each (lmlab: its numba kernel, --engine; torch: the batched update
in processes, --batch_size). Per seed both train in this process one after the other, the order alternating;
train seconds are reported as medians. Precision@10: for every item with a section, the share of its ten nearest items
(cosine) in the same section, averaged. The ten nearest of a few named packages are printed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from lmlab.data.baskets import BasketDataConfig, read_baskets
from lmlab.data.words import Vocab, keep_probabilities
from lmlab.models.word2vec.config import Word2VecConfig, Word2VecTrainConfig
from lmlab.models.word2vec.model import Word2Vec
from lmlab.tools.word_vectors import WordVectors, ppmi_svd, precision_at_k
from lmlab.train.word2vec import train_word2vec

NAMED = ("python3-numpy", "libreoffice-writer", "r-cran-ggplot2")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="/work/shared/data/debian/packages.jsonl")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seeds", default="1")
    p.add_argument("--min_count", type=int, default=5)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--engine", choices=("numba", "torch"), default="numba")
    p.add_argument("--batch_size", type=int, default=256, help="engine torch: centre words per update")
    p.add_argument("--ppmi", action="store_true", help="also the PPMI + SVD baseline")
    args = p.parse_args()
    got = read_baskets(args.data, BasketDataConfig())
    vocab = Vocab.build(got.baskets, args.min_count)
    ids, sid = vocab.encode(got.baskets)
    baskets = [[w for w in b if w in vocab.index] for b in got.baskets]
    window = max(len(b) for b in got.baskets) - 1
    print(f"{len(got.baskets)} baskets, {len(vocab.words)} items (min_count {args.min_count}), counts {got.counts}")
    scores: dict[str, list[float]] = {"lmlab": [], "gensim": []}
    seconds: dict[str, list[float]] = {"lmlab": [], "gensim": []}
    spaces = {}
    for n, seed in enumerate(int(s) for s in args.seeds.split(",")):
        for name in (("lmlab", "gensim") if n % 2 == 0 else ("gensim", "lmlab")):
            t = time.perf_counter()
            if name == "lmlab":
                model = Word2Vec(Word2VecConfig(dim=args.dim, window=window, vocab_size=len(vocab.words)))
                model.set_counts(vocab.counts)
                train_word2vec(model, ids, sid, keep_probabilities(vocab.counts, 1e-3),
                               Word2VecTrainConfig(epochs=args.epochs, seed=seed, batch_size=args.batch_size,
                                                   engine=args.engine), shrink=False)
                spaces["lmlab"] = WordVectors(vocab.words, model.in_emb.numpy())
            else:
                from gensim.models import Word2Vec as GensimWord2Vec
                g = GensimWord2Vec(baskets, vector_size=args.dim, window=window, shrink_windows=False, sg=1,
                                   negative=5, min_count=args.min_count, sample=1e-3, workers=2, seed=seed,
                                   epochs=args.epochs)
                spaces["gensim"] = WordVectors(g.wv.index_to_key, g.wv.vectors)
            seconds[name].append(time.perf_counter() - t)
            scores[name].append(precision_at_k(spaces[name], got.sections))
            print(f"seed {seed} {name:6s} {seconds[name][-1]:.1f} s, precision@10 {scores[name][-1]:.4f}", flush=True)
    if args.ppmi:
        t = time.perf_counter()
        spaces["ppmi+svd"] = WordVectors(vocab.words, ppmi_svd([list(map(vocab.index.get, b)) for b in baskets],
                                                               len(vocab.words), args.dim))
        scores["ppmi+svd"] = [precision_at_k(spaces["ppmi+svd"], got.sections)]
        seconds["ppmi+svd"] = [time.perf_counter() - t]
    for name, s in scores.items():
        std = statistics.stdev(s) if len(s) > 1 else 0.0
        print(f"{name:9s} precision@10 by section {statistics.mean(s):.4f} ± {std:.4f} ({len(s)} run(s)), "
              f"train seconds (median) {statistics.median(seconds[name]):.1f}")
    print(f"lmlab / gensim train seconds: {statistics.median(seconds['lmlab']) / statistics.median(seconds['gensim']):.2f}")
    for item in NAMED:
        for name, wv in spaces.items():
            if item in wv.index:
                print(f"{item} [{name}]: " + ", ".join(w for w, _ in wv.similar(item, 10)))


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()

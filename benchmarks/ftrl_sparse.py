"""FTRL-Proximal on a sparse text classifier: how L1 trades weights for accuracy.

    python benchmarks/ftrl_sparse.py                        # fortunes, "computers" vs the rest, ~1 min
    python benchmarks/ftrl_sparse.py --topic science --l1 0,1,4 --epochs 2
    python benchmarks/ftrl_sparse.py --quick                # a smoke run on a slice of the data

The setting of McMahan et al. 2013 ("Ad Click Prediction: a View from the Trenches") in miniature:
online logistic regression over hashed sparse features, trained with lmlab.optim.FTRL.

- Data: ../shared/data/fortunes/fortunes.en.jsonl ({"text", "label"}, 40 topics; `--data PATH`).
  One topic against the rest (default "computers", ~7 % of the texts: imbalanced, so besides
  accuracy the table gives ROC AUC and F1 of the topic, and the majority-class accuracy).
- Split: a fixed-seed permutation, 80 % train / 20 % test (the same for every λ1).
- Features: lower-cased words (`[a-z0-9']+`) and word bigrams, hashed with CRC32 into 2^18
  buckets (present = 1), plus a bias that FTRL updates in its own param group with λ1 = 0.
- Model: logit = b + Σ w[bucket] over the example's buckets, computed with F.embedding_bag, so
  autograd returns the (dense) gradient of the weight vector; loss: logistic, summed over the
  minibatch (the per-example gradients of Algorithm 1). Minibatches of `--batch` examples
  (default 1: the paper's one example at a time), `--epochs` passes in the same order.
- For each λ1: test accuracy, AUC, F1 and the fraction of exactly-zero weights, over all 2^18
  buckets and over the buckets that occur in the training set (a bucket never seen has z = 0
  and is zero at any λ1, so the second number is the informative one).
Results: benchmarks/results/ftrl_sparse.json (not with --quick).
"""

from __future__ import annotations

import argparse
import json
import re
import time
import zlib
from pathlib import Path

import torch
import torch.nn.functional as F

from lmlab.optim.ftrl import FTRL

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fortunes" / "fortunes.en.jsonl"
WORD = re.compile(r"[a-z0-9']+")


def load(path: Path) -> tuple[list[str], list[str]]:
    if not path.is_file():
        raise SystemExit(f"{path} not found; pass --data PATH to fortunes.en.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def features(text: str, buckets: int) -> list[int]:
    """Hashed word unigrams and bigrams of one text (distinct buckets, presence only)."""
    words = WORD.findall(text.lower())
    grams = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
    return sorted({zlib.crc32(g.encode()) % buckets for g in grams})


def batches(feats: list[list[int]], labels: torch.Tensor, order: list[int], size: int):
    """(flat bucket ids, offsets, labels) for embedding_bag, `size` examples at a time."""
    for i in range(0, len(order), size):
        idx = order[i:i + size]
        lens = torch.tensor([len(feats[j]) for j in idx])
        flat = torch.tensor([b for j in idx for b in feats[j]], dtype=torch.long)
        offsets = torch.cumsum(lens, 0) - lens
        yield flat, offsets, labels[idx]


def logits(w: torch.Tensor, b: torch.Tensor, flat, offsets) -> torch.Tensor:
    return F.embedding_bag(flat, w, offsets, mode="sum").squeeze(1) + b  # (B,)


def auc(scores: torch.Tensor, y: torch.Tensor) -> float:
    """ROC AUC = P(score of a random positive > score of a random negative), ties count half."""
    ranks = torch.empty(len(scores), dtype=torch.float64)
    s, order = torch.sort(scores)
    ranks[order] = torch.arange(1, len(s) + 1, dtype=torch.float64)
    # average the ranks of tied scores
    _, inverse, counts = torch.unique_consecutive(s, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    avg = ends - (counts.double() - 1) / 2
    ranks[order] = avg[inverse]
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    return float((ranks[y.bool()].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def evaluate(w, b, feats, labels, order) -> dict:
    with torch.no_grad():
        scores = torch.cat([logits(w, b, f, o) for f, o, _ in batches(feats, labels, order, 512)])
    y = labels[order]
    pred = (scores > 0).float()
    tp, fp, fn = float((pred * y).sum()), float((pred * (1 - y)).sum()), float(((1 - pred) * y).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return dict(accuracy=float((pred == y).float().mean()), auc=auc(scores, y), f1=f1, precision=precision,
                recall=recall)


def train(feats, labels, train_order, args, l1: float):
    """One FTRL run at this λ1; returns (w, b)."""
    w = torch.zeros(args.buckets, 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = FTRL([{"params": [w], "l1": l1}, {"params": [b], "l1": 0.0}], alpha=args.alpha, beta=args.beta,
               l2=args.l2)
    for _ in range(args.epochs):
        for flat, offsets, y in batches(feats, labels, train_order, args.batch):
            loss = F.binary_cross_entropy_with_logits(logits(w, b, flat, offsets), y, reduction="sum")
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    return w.detach(), b.detach()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="fortunes.en.jsonl")
    p.add_argument("--topic", default="computers", help="the positive class (one of the 40 labels)")
    p.add_argument("--l1", default="0,0.1,0.5,1,2,5", help="comma-separated λ1 values")
    p.add_argument("--l2", type=float, default=1.0, help="λ2")
    p.add_argument("--alpha", type=float, default=0.2, help="α of the per-coordinate rate α / (β + √n)")
    p.add_argument("--beta", type=float, default=1.0, help="β of the per-coordinate rate")
    p.add_argument("--buckets", type=int, default=2**18, help="hash buckets (feature dimension)")
    p.add_argument("--batch", type=int, default=8, help="examples per FTRL step (1 = fully online, slower)")
    p.add_argument("--epochs", type=int, default=1, help="passes over the training set")
    p.add_argument("--test_frac", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0, help="seed of the train/test permutation")
    p.add_argument("--threads", type=int, default=1, help="torch threads (small tensors: 1 is fastest)")
    p.add_argument("--quick", action="store_true", help="2,000 texts, two λ1 values (smoke test; no JSON)")
    p.add_argument("--json", default="benchmarks/results/ftrl_sparse.json", help="where to write the results")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    l1s = [float(x) for x in args.l1.split(",")]

    texts, topics = load(args.data)
    if args.topic not in set(topics):
        raise SystemExit(f"no text has label {args.topic!r}; labels: {', '.join(sorted(set(topics)))}")
    order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(args.seed)).tolist()
    if args.quick:
        order, l1s = order[:2000], [0.0, 1.0]
    n_test = int(len(order) * args.test_frac)
    test_order, train_order = order[:n_test], order[n_test:]
    labels = torch.tensor([float(t == args.topic) for t in topics])
    t0 = time.perf_counter()
    feats = [features(t, args.buckets) for t in texts]
    seen = torch.zeros(args.buckets, dtype=torch.bool)
    seen[torch.tensor([b for j in train_order for b in feats[j]])] = True

    pos_train, pos_test = labels[train_order].mean().item(), labels[test_order].mean().item()
    print(f"{args.data.name}: {len(texts)} texts; '{args.topic}' vs the rest: {labels.sum():.0f} positive "
          f"({100 * labels.mean():.1f} %); train {len(train_order)} ({100 * pos_train:.1f} % positive), "
          f"test {len(test_order)} ({100 * pos_test:.1f} % positive); majority-class test accuracy "
          f"{1 - pos_test:.4f}")
    print(f"features: word uni+bigrams hashed into {args.buckets} buckets, {seen.sum()} of them occur in training "
          f"({time.perf_counter() - t0:.1f} s); FTRL α {args.alpha}, β {args.beta}, λ2 {args.l2}, "
          f"batch {args.batch}, {args.epochs} epoch(s)\n")

    print(f"{'λ1':>6} {'accuracy':>9} {'AUC':>7} {'F1':>6} {'prec':>6} {'recall':>6} {'zero (all)':>11} "
          f"{'zero (seen)':>12} {'nonzero':>8} {'s':>5}")
    rows = []
    for l1 in l1s:
        t = time.perf_counter()
        w, b = train(feats, labels, train_order, args, l1)
        m = evaluate(w, b, feats, labels, test_order)
        zero = w.squeeze(1) == 0
        row = dict(l1=l1, **m, zero_frac_all=float(zero.float().mean()), zero_frac_seen=float(zero[seen].float().mean()),
                   nonzero=int((~zero).sum()), seconds=time.perf_counter() - t)
        rows.append(row)
        print(f"{l1:>6g} {row['accuracy']:>9.4f} {row['auc']:>7.4f} {row['f1']:>6.3f} {row['precision']:>6.3f} "
              f"{row['recall']:>6.3f} {row['zero_frac_all']:>11.4f} {row['zero_frac_seen']:>12.4f} "
              f"{row['nonzero']:>8d} {row['seconds']:>5.1f}", flush=True)

    if not args.quick:
        out = dict(what="FTRL-Proximal logistic regression, hashed word uni+bigrams, one topic vs rest",
                   data=str(args.data.name), topic=args.topic, n_texts=len(texts), n_train=len(train_order),
                   n_test=len(test_order), positive_frac_test=pos_test, majority_accuracy=1 - pos_test,
                   buckets=args.buckets, seen_buckets=int(seen.sum()), alpha=args.alpha, beta=args.beta,
                   l2=args.l2, batch=args.batch, epochs=args.epochs, seed=args.seed, rows=rows)
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"\nresults in {args.json}")


if __name__ == "__main__":
    main()

"""TF-IDF fit + transform on fortunes: lmlab.data.tfidf against scikit-learn's TfidfVectorizer.

    python benchmarks/tfidf.py                   # 14,381 fortunes, 15 interleaved rounds (~1 min)
    python benchmarks/tfidf.py --rounds 5 --quick   # a smoke run on 2,000 texts (writes no JSON)

- Data: ../shared/data/fortunes/fortunes.en.jsonl (`--data PATH`), the "text" field, 14,381 texts, 3 MB.
- Settings: scikit-learn's defaults (raw counts, smooth idf, l2), and a pruned one (sublinear tf,
  min_df 2, max_df 0.5), each with the same option on both sides.
- Two jobs per setting: `fit_transform` (one pass over the texts) and `fit` then `transform` (two passes,
  as when a model is fitted once and used on the same texts again).
- Before timing, the outputs are compared (same vocabulary, max |difference| printed).
- The contestants run in one process, interleaved round by round with the order alternating, so a busy
  machine slows both alike. Reported: median seconds (p25-p75), ratio lmlab / scikit-learn of the
  medians, and the median of the per-round ratios.
Results: benchmarks/results/tfidf.json (not with --quick).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from lmlab.data.tfidf import Tfidf, TfidfConfig

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fortunes" / "fortunes.en.jsonl"
SETTINGS = {
    "defaults": ({}, {}),
    "sublinear, min_df 2, max_df 0.5": ({"tf": "sublinear", "min_df": 2, "max_df": 0.5},
                                        {"sublinear_tf": True, "min_df": 2, "max_df": 0.5}),
}


def jobs(ours: dict, theirs: dict, texts: list[str]) -> dict:
    """{job: {contestant: a function of no arguments that does it}}."""
    return {
        "fit_transform": {"lmlab": lambda: Tfidf(TfidfConfig(**ours)).fit_transform(texts),
                          "sklearn": lambda: TfidfVectorizer(**theirs).fit_transform(texts)},
        "fit + transform": {"lmlab": lambda: Tfidf(TfidfConfig(**ours)).fit(texts).transform(texts),
                            "sklearn": lambda: TfidfVectorizer(**theirs).fit(texts).transform(texts)},
    }


def check(ours: dict, theirs: dict, texts: list[str]) -> float:
    model, ref = Tfidf(TfidfConfig(**ours)), TfidfVectorizer(**theirs)
    a, b = model.fit_transform(texts), ref.fit_transform(texts)
    if model.vocab.terms != list(ref.get_feature_names_out()):
        raise SystemExit("the vocabularies differ: the comparison would be meaningless")
    return float(abs(a - b).max())


def race(contestants: dict, rounds: int) -> dict:
    times = {name: [] for name in contestants}
    names = list(contestants)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            t = time.perf_counter()
            contestants[name]()
            times[name].append(time.perf_counter() - t)
    ratios = [a / b for a, b in zip(times["lmlab"], times["sklearn"])]
    out = {name: dict(median=statistics.median(ts), p25=float(np.percentile(ts, 25)),
                      p75=float(np.percentile(ts, 75)), fastest=min(ts)) for name, ts in times.items()}
    out["ratio_of_medians"] = out["lmlab"]["median"] / out["sklearn"]["median"]
    out["median_ratio"] = statistics.median(ratios)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="2,000 texts, no JSON")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "tfidf.json")
    args = ap.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"{args.data} not found; pass --data PATH to fortunes.en.jsonl")
    texts = [json.loads(line)["text"] for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = texts[:2000] if args.quick else texts
    print(f"{len(texts):,} texts, {sum(map(len, texts)) / 1e6:.1f} M characters, {args.rounds} rounds")
    results = {}
    print(f"{'setting':<33} {'job':<16} {'lmlab s':>18} {'sklearn s':>18} {'ratio':>6} {'per-round':>9}")
    for setting, (ours, theirs) in SETTINGS.items():
        diff = check(ours, theirs, texts)
        for job, contestants in jobs(ours, theirs, texts).items():
            r = race(contestants, args.rounds)
            r["max_abs_diff"] = diff
            results[f"{setting} | {job}"] = r
            cell = lambda s: f"{s['median']:.3f} ({s['p25']:.3f}-{s['p75']:.3f})"
            print(f"{setting:<33} {job:<16} {cell(r['lmlab']):>18} {cell(r['sklearn']):>18} "
                  f"{r['ratio_of_medians']:>6.2f} {r['median_ratio']:>9.2f}")
        print(f"{'':<33} outputs agree: same vocabulary, max |difference| {diff:.1e}")
    if not args.quick:
        meta = dict(texts=len(texts), rounds=args.rounds, python=platform.python_version(),
                    cpu=platform.processor() or platform.machine())
        args.json.write_text(json.dumps(dict(meta=meta, results=results), indent=1) + "\n", encoding="utf-8")
        print(f"results: {args.json}")


if __name__ == "__main__":
    main()

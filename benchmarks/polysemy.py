"""Polysemy on WikiText-2: does a briefly trained ELMo or BERT separate "bank" (river) from "bank" (money)
better than the same model with random weights? (issue 16; notes 002 III, 004 七)

Both models are trained on WikiText-2's validation + test splits (the train split is not at hand; for BERT
with its whitespace-only lines emptied, so that its paragraphs are documents), each
for the same wall-clock budget (`--budget` seconds, one after the other), then measured by `lmlab explain
polysemy` on the corpus's own "bank" sentences (labelled by the rule in lmlab/tools/explain/polysemy.py),
each beside its random-weight twin: mean cosine of same-sense and cross-sense pairs of occurrences, their
gap, and leave-one-out nearest-neighbour sense accuracy. Also each model's validation figures.

    python benchmarks/polysemy.py --budget 900 --out runs/polysemy --json benchmarks/results/polysemy.json
Each run's trainer records its steps: on a shared machine equal seconds are not equal work, so compare them.
Reuse trained runs: --elmo RUN --bert RUN (then nothing is trained).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

from lmlab.tools.explain.polysemy import run as polysemy
from lmlab.train.metrics import read_metrics

WIKITEXT = "/work/shared/data/wikitext-2"


def lmlab(*args: str) -> None:
    print("$ lmlab", " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "lmlab.cli", *args], check=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=WIKITEXT, help="the corpus folder (default: %(default)s)")
    p.add_argument("--budget", type=float, default=900, help="training seconds per model (default: 900)")
    p.add_argument("--out", default="runs/polysemy", help="folder for the two runs")
    p.add_argument("--elmo", help="a trained ELMo run to reuse")
    p.add_argument("--bert", help="a trained BERT run to reuse")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--plots", help="save polysemy.png (the cosine matrices) in this folder")
    args = p.parse_args()
    out = Path(args.out)
    budget = ["--time-budget", str(args.budget), "--max_steps", "3000", "--device", "cpu", "--quiet"]
    elmo, bert = args.elmo, args.bert
    if elmo is None:
        elmo = str(out / "elmo-wiki")
        lmlab("train", "elmo", "--data", args.data, "--preset", "elmo-tiny", "--max_vocab", "10000",
              "--batch_size", "16", "--eval_every", "300", "--eval_batches", "10", *budget, "--out", elmo)
    if bert is None:  # WikiText's blank lines hold a space: BERT's reader splits documents at empty lines
        bert, corpus = str(out / "bert-wiki"), out / "wikitext2-paragraphs.txt"
        text = "\n".join(f.read_text(encoding="utf-8") for f in sorted(Path(args.data).glob("*.txt")))
        corpus.write_text("\n".join(line.strip() for line in text.splitlines()) + "\n", encoding="utf-8")
        lmlab("train", "bert", "--data", str(corpus), "--preset", "bert-tiny", "--tokenizer_vocab_size", "8000",
              "--sentence_task", "none", "--max_len", "128", "--batch_size", "16", "--eval_every", "300",
              "--eval_batches", "10", *budget, "--out", bert)
    torch.set_num_threads(1)
    results = {"runs": {}, "polysemy": polysemy(Path(args.plots) if args.plots else None, models=(elmo, bert))}
    for run in (elmo, bert):
        rows = read_metrics(Path(run) / "metrics.jsonl")
        evals = [r for r in rows if "val_loss" in r]
        results["runs"][run] = {"steps": rows[-1]["step"], **(evals[-1] if evals else {})}
    print(json.dumps(results["runs"], indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

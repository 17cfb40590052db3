"""Continued (domain-adaptive) BERT pretraining: does starting from a BERT pretrained on other text help?

    python benchmarks/bert_continued.py                    # wikitext-2 -> Debian descriptions, a few minutes
    python benchmarks/bert_continued.py --base-steps 1200 --steps 600 --seeds 1,2 --threads 2
    python benchmarks/bert_continued.py --quick            # a smoke run (tiny steps), writes no JSON

Gururangan et al. 2020 ("Don't Stop Pretraining") and Sun et al. 2019 (§4.2, "further pre-training"):
pretraining more on the target domain's own text before fine-tuning helps. Here, at toy scale:

1. base: `lmlab train bert` on wikitext-2 (the first --wiki-chars of /work/shared/data/wikitext-2/valid.txt:
   each paragraph a document, its sentences the segments), --base-steps steps; its WordPiece is trained on wikitext.
2. continued: `lmlab train bert --init base` on Debian package descriptions (the first --descriptions
   "description" fields of /work/shared/data/debian/packages.jsonl, 8 to a paragraph), --steps steps, the base's tokenizer.
3. scratch: the same shape and the same tokenizer (`--tokenizer base/tokenizer.json`), random
   weights, the same --steps on the same descriptions.
4. continued + LoRA: `--init base --lora r=8,alpha=16,targets=all-linear`: adapters on the frozen base.

All runs of a seed share the tokenizer, the Debian split and the validation batches (fixed masks), so
their val MLM losses compare directly. The continued runs log the base's loss on the descriptions at
step 0 (before any step). Each run's model is also scored on wikitext's validation batches, to see how
much of the first domain the continued runs forget. Runs go one after another in this process through
`lmlab.cli.main`; wall times are on a shared machine and only indicative. Results go to --json
(default benchmarks/results/bert_continued.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from lmlab.cli import main
from lmlab.data.bert_pretraining import mlm_batches, split_documents
from lmlab.runs.run import Run
from lmlab.train.metrics import read_metrics
from lmlab.train.objectives import bert_pretraining

WIKI = Path("/work/shared/data/wikitext-2/valid.txt")
DEBIAN = Path("/work/shared/data/debian/packages.jsonl")
DEFAULT_JSON = Path(__file__).parent / "results" / "bert_continued.json"


def wiki_corpus(path: Path, out: Path, chars: int) -> Path:
    """wikitext-2 raw, its first `chars` characters: a paragraph per document, a sentence per segment (headings
    dropped)."""
    docs = []
    for line in path.read_text(encoding="utf-8")[:chars].splitlines():
        line = line.strip().replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
        if line and not line.startswith("="):
            sentences = [s.strip() + " ." for s in line.split(" . ") if s.strip()]
            docs.append("\n".join(sentences))
    out.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    return out


def debian_corpus(path: Path, out: Path, n: int, per_doc: int = 8) -> Path:
    """The first n package descriptions (one line each), per_doc to a paragraph."""
    descs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            descs.append(" ".join(json.loads(line)["description"].split()))
            if len(descs) == n:
                break
    docs = ["\n".join(descs[i:i + per_doc]) for i in range(0, len(descs), per_doc)]
    out.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    return out


def val_mlm_loss(run: Path, corpus: Path, batch_size: int, n_batches: int) -> float:
    """The run's model on a corpus's validation batches, as the run would build them (fixed masks)."""
    r = Run.open(run)
    data_cfg, train_cfg = r.config("data"), r.config("train")
    train_docs, val_docs = split_documents(corpus.read_text(encoding="utf-8"), data_cfg.val_fraction)
    _, val, _ = mlm_batches(train_docs[:1], val_docs, r.tokenizer(), data_cfg, batch_size, train_cfg.seed, n_batches)
    model = r.model().eval()
    with torch.no_grad():
        return statistics.fmean(bert_pretraining(model, b)["mlm_loss"].item() for b in val)


def evals(run: Path) -> list[dict]:
    return [r for r in read_metrics(run / "metrics.jsonl") if "val_mlm_loss" in r]


def train(argv: list[str]) -> float:
    t0 = time.perf_counter()
    assert main(["train", "bert", *argv]) == 0, argv
    return time.perf_counter() - t0


def one_seed(seed: int, args, root: Path, wiki: Path, deb: Path) -> dict:
    common = ["--batch_size", str(args.batch_size), "--eval_batches", str(args.eval_batches), "--device", "cpu",
              "--seed", str(seed), "--quiet"]
    data = ["--max_len", str(args.max_len), "--sentence_task", "none"]
    sched = lambda steps, lr: ["--max_steps", str(steps), "--eval_every", str(max(1, steps // 4)), "--lr", str(lr),
                               "--min_lr", str(lr / 10), "--warmup_steps", str(max(1, steps // 20))]
    base, runs, walls = root / f"base{seed}", {}, {}
    walls["base"] = train(["--data", str(wiki), "--preset", args.preset, "--max_seq_len", str(args.max_len),
                           "--tokenizer_vocab_size", str(args.vocab), *data, *sched(args.base_steps, args.lr),
                           *common, "--out", str(base)])
    runs["continued"] = root / f"continued{seed}"
    walls["continued"] = train(["--init", str(base), "--data", str(deb), *data, *sched(args.steps, args.cont_lr),
                                *common, "--out", str(runs["continued"])])
    runs["scratch"] = root / f"scratch{seed}"
    walls["scratch"] = train(["--data", str(deb), "--preset", args.preset, "--max_seq_len", str(args.max_len),
                              "--tokenizer", str(base / "tokenizer.json"), *data, *sched(args.steps, args.lr),
                              *common, "--out", str(runs["scratch"])])
    runs["continued+lora"] = root / f"lora{seed}"
    walls["continued+lora"] = train(["--init", str(base), "--data", str(deb), *data,
                                     "--lora", "r=8,alpha=16,targets=all-linear", *sched(args.steps, args.lora_lr),
                                     *common, "--out", str(runs["continued+lora"])])
    row = {"seed": seed, "base_wiki_val_mlm": evals(base)[-1]["val_mlm_loss"],
           "before_debian_val_mlm": evals(runs["continued"])[0]["val_mlm_loss"], "wall_s": walls}
    for name, run in runs.items():
        row[f"{name}_debian_val_mlm"] = evals(run)[-1]["val_mlm_loss"]
        row[f"{name}_debian_curve"] = [(r["step"], round(r["val_mlm_loss"], 4)) for r in evals(run)]
        row[f"{name}_wiki_val_mlm"] = val_mlm_loss(run, wiki, args.batch_size, args.eval_batches)
    return row


def main_() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="bert-tiny")
    p.add_argument("--vocab", type=int, default=4000, help="WordPiece size, trained on wikitext")
    p.add_argument("--max-len", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--eval-batches", type=int, default=8)
    p.add_argument("--wiki-chars", type=int, default=600_000)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 on a busy shared machine)")
    p.add_argument("--base-steps", type=int, default=400)
    p.add_argument("--steps", type=int, default=150, help="steps on the descriptions (continued and scratch)")
    p.add_argument("--lr", type=float, default=1e-3, help="from scratch (the base and the scratch run)")
    p.add_argument("--lora-lr", type=float, default=3e-3)
    p.add_argument("--cont-lr", type=float, default=5e-4, help="continued pretraining (full weights)")
    p.add_argument("--descriptions", type=int, default=12000)
    p.add_argument("--seeds", default="1")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.quick:
        args.base_steps, args.steps, args.descriptions, args.eval_batches = 20, 10, 2000, 2
    out_json = args.json or (None if args.quick else DEFAULT_JSON)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        wiki, deb = wiki_corpus(WIKI, root / "wiki.txt", args.wiki_chars), debian_corpus(DEBIAN, root / "debian.txt", args.descriptions)
        rows = [one_seed(int(s), args, root, wiki, deb) for s in args.seeds.split(",")]
    names = ("before", "continued", "scratch", "continued+lora")
    med = lambda key: statistics.median(r[key] for r in rows)
    print(f"\nval MLM loss (median of {len(rows)} seed(s)); {args.preset}, {args.steps} steps on the descriptions, "
          f"base {args.base_steps} steps on wikitext")
    print(f"{'model':<16} {'debian':>8} {'wikitext':>9}")
    print(f"{'base (before)':<16} {med('before_debian_val_mlm'):8.3f} {med('base_wiki_val_mlm'):9.3f}")
    for name in names[1:]:
        print(f"{name:<16} {med(f'{name}_debian_val_mlm'):8.3f} {med(f'{name}_wiki_val_mlm'):9.3f}")
    gain = med("scratch_debian_val_mlm") - med("continued_debian_val_mlm")
    print(f"continued beats scratch on the descriptions by {gain:.3f} nats "
          f"(ppl ratio {torch.tensor(gain).exp().item():.2f}x); total {time.perf_counter() - t0:.0f} s")
    if out_json:
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps({"args": vars(args) | {"json": str(out_json)}, "rows": rows}, indent=1) + "\n")
        print(f"results in {out_json}")


if __name__ == "__main__":
    main_()

"""Fill-mask end to end on real text: `lmlab fill-mask` beside transformers' `pipeline("fill-mask")`.

    python benchmarks/fill_mask_demo.py --out runs/fill-mask-wiki --time-budget 360 --threads 1   # train, then compare
    python benchmarks/fill_mask_demo.py --run runs/fill-mask-wiki                                 # compare only
    python benchmarks/fill_mask_demo.py --quick                    # a smoke run (30 steps), writes no JSON

1. Without --run: a bert-tiny (`lmlab train bert`, masked LM only) on wikitext-2 `valid.txt` (a paragraph per
   document, its sentences the segments, headings dropped: bert_continued.wiki_corpus; wikitext's <unk>
   dropped where a space precedes it), WordPiece trained on it, for --time-budget seconds.
2. `lmlab hf export RUN --out RUN/hf`: BertForPreTraining + vocab.txt + tokenizer.json.
3. `lmlab fill-mask RUN TEXT… --json --top-k K` (through lmlab.cli.main, as a user types it) on sentences of
   wikitext-2 `test.txt`, which training never saw, one of them with two [MASK]s.
4. transformers' `pipeline("fill-mask", model=RUN/hf, top_k=K)` on the same texts.

Both lists are printed side by side; they agree when every [MASK] gets the same tokens in the same order,
the same `sequence` strings, and probabilities within --atol. Results go to --json (default
benchmarks/results/fill_mask_demo.json); the exit status is 1 when they disagree.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bert_continued import WIKI, wiki_corpus  # noqa: E402

from lmlab.cli import main  # noqa: E402
from lmlab.train.metrics import read_metrics  # noqa: E402

DEFAULT_JSON = Path(__file__).parent / "results" / "fill_mask_demo.json"
HF_NAME = 'pipeline("fill-mask")'
# sentences of wikitext-2 test.txt (untokenized by hand: "famous work ." -> "famous work."), a word masked
TEXTS = [
    "This is regarded as his most famous [MASK].",
    "In total, he cut about 30 [MASK] from his original edit.",
    "The storm caused widespread power [MASK] and ferry disruptions.",
    "After retiring from [MASK] he settled in Buffalo and became a sports [MASK].",
]


def train(run: Path, args) -> float:
    """bert-tiny, masked LM on wikitext-2 valid.txt for args.time_budget seconds; the wall time."""
    corpus = wiki_corpus(WIKI, run.parent / f"{run.name}-corpus.txt", 10**9)
    corpus.write_text(corpus.read_text(encoding="utf-8").replace(" <unk>", ""), encoding="utf-8")
    steps = 30 if args.quick else 1_000_000
    argv = ["train", "bert", "--data", str(corpus), "--preset", "bert-tiny", "--max_seq_len", "128",
            "--max_len", "64", "--tokenizer_vocab_size", str(args.vocab), "--sentence_task", "none",
            "--batch_size", "32", "--lr", "2e-3", "--warmup_steps", "100", "--max_steps", str(steps),
            "--eval_every", "500", "--eval_batches", "10", "--device", "cpu", "--quiet", "--out", str(run),
            "--overwrite"]
    if not args.quick:
        argv += ["--time_budget", str(args.time_budget)]
    t0 = time.perf_counter()
    assert main(argv) == 0, argv
    return time.perf_counter() - t0


def lmlab_fill(run: Path, texts: list[str], top_k: int) -> list[list[list[dict]]]:
    """`lmlab fill-mask RUN TEXT… --json`: per text, per [MASK], the guesses."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["fill-mask", str(run), *texts, "--json", "--top-k", str(top_k)]) == 0
    return [row["masks"] for row in json.loads(out.getvalue())]


def hf_fill(folder: Path, texts: list[str], top_k: int) -> list[list[list[dict]]]:
    """transformers' fill-mask pipeline on the exported folder, in the same shape (a list per [MASK])."""
    from transformers import pipeline
    fill = pipeline("fill-mask", model=str(folder), tokenizer=str(folder), top_k=top_k, device="cpu")
    out = []
    for text in texts:
        res = fill(text)
        out.append([res] if text.count("[MASK]") == 1 else res)
    return out


def compare(ours: list, theirs: list) -> dict:
    """Same tokens in the same order, same sequences, and the largest probability difference."""
    same_tokens = same_sequences = True
    diff = 0.0
    for a_text, b_text in zip(ours, theirs, strict=True):
        for a, b in zip(a_text, b_text, strict=True):
            same_tokens &= [g["token"] for g in a] == [g["token"] for g in b]
            same_sequences &= [g["sequence"] for g in a] == [g["sequence"] for g in b]
            diff = max(diff, *(abs(g["score"] - h["score"]) for g, h in zip(a, b)))
    return {"same_tokens": same_tokens, "same_sequences": same_sequences, "max_abs_score_diff": diff}


def show(texts: list[str], ours: list, theirs: list) -> None:
    for text, a_text, b_text in zip(texts, ours, theirs):
        print(f"\n{text}")
        for m, (a, b) in enumerate(zip(a_text, b_text), 1):
            if len(a_text) > 1:
                print(f"  [MASK] {m} of {len(a_text)}")
            print(f"    {'lmlab fill-mask':<26}  {HF_NAME:<26}")
            for g, h in zip(a, b):
                print(f"    {g['score']:.4f}  {g['token_str']:<18}  {h['score']:.4f}  {h['token_str']:<18}")


def main_() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="an existing lmlab BERT run to compare (no training)")
    ap.add_argument("--out", help="where to train the run (default: a temporary directory)")
    ap.add_argument("--time-budget", type=float, default=360.0, help="seconds of masked-LM training (default: 360)")
    ap.add_argument("--vocab", type=int, default=8000, help="WordPiece vocabulary (default: 8000)")
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--atol", type=float, default=1e-5, help="largest probability difference that still agrees")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 30 steps, no JSON unless --json is given")
    ap.add_argument("--json", help="where to write the results (default: benchmarks/results/fill_mask_demo.json)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(args.run or args.out or Path(tmp) / "bert")
        train_s = None if args.run else train(run, args)
        assert main(["hf", "export", str(run), "--out", str(run / "hf"), "--overwrite"]) == 0
        ours = lmlab_fill(run, TEXTS, args.top_k)
        theirs = hf_fill(run / "hf", TEXTS, args.top_k)
        rows = read_metrics(run / "metrics.jsonl")
    agree = compare(ours, theirs)
    ok = agree["same_tokens"] and agree["same_sequences"] and agree["max_abs_score_diff"] <= args.atol
    show(TEXTS, ours, theirs)
    final = [r for r in rows if "val_mlm_loss" in r][-1:]
    steps = max(r["step"] for r in rows)
    print(f"\n{steps} steps{f' in {train_s:.0f} s' if train_s else ''}; final {final[0] if final else {}}")
    print(f"agree: {ok} (same tokens {agree['same_tokens']}, same sequences {agree['same_sequences']}, "
          f"largest probability difference {agree['max_abs_score_diff']:.2e})")
    out = args.json or (None if args.quick else str(DEFAULT_JSON))
    if out:
        info = {"run": str(run), "trained_here": not args.run, "train_s": train_s and round(train_s, 1),
                "steps": steps, "final_val": final[0] if final else None, "threads": torch.get_num_threads(),
                "settings": vars(args), "agree": ok, **agree,
                "texts": [{"text": t, "lmlab": a, "pipeline": b} for t, a, b in zip(TEXTS, ours, theirs)]}
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main_())

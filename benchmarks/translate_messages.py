"""English -> Chinese (or French, German) software messages: train a Transformer, measure BLEU, chrF, placeholders.

    python benchmarks/translate_messages.py                           # en->zh, 20 min of training on this CPU
    python benchmarks/translate_messages.py --time-budget 150 --quick # a smoke run (writes no JSON)
    python benchmarks/translate_messages.py --data ../shared/data/mt/messages.en-fr.tsv --time-budget 1200

Data: `../shared/data/mt/messages.en-zh.tsv` (11,041 gettext messages of GNU/Debian tools with their
Simplified Chinese translations). `lmlab.recipes.train_seq2seq` splits it (seeded, by source
sentence) into train / 500 validation / 500 test pairs, trains a joint byte-level BPE and an
encoder-decoder Transformer (--preset, bf16 autocast) with label smoothing 0.1 and warm-up + cosine
for --time-budget seconds, then this
script translates the 500 test messages (greedy, and beam search with --num-beams) and reports:
- BLEU and chrF (sacrebleu; `zh` tokenization for Chinese, i.e. per character), and the output's length over
  the references' (BLEU's tokens; above 1 no brevity penalty applies, and long outputs are often loops);
- the copy-the-source baseline (the English message as its own "translation"): messages are full
  of option names, paths and placeholders that stay untranslated, so copying scores above zero;
- placeholders: of the test messages whose reference holds printf placeholders (%s, %lu, %1$s,
  %.250s, %% …), the fraction whose translation holds exactly the same ones (as a multiset);
- printf-compatible: of all test messages (and of those whose source holds a placeholder), the fraction
  whose translation `msgfmt -c` would accept for its source (lmlab.data.placeholders.compatible);
- each decoding twice: with the placeholder constraint (`lmlab translate`'s default) and without
  (`--no-placeholder-guard`). Runs trained with --placeholder-slots 16 (the default) see placeholders as
  reserved tokens; --placeholder-slots 0 trains as lmlab did before masking.

    python benchmarks/translate_messages.py --eval-run runs/en-zh   # only evaluate a run trained before
    python benchmarks/translate_messages.py --check-reference       # the references against their sources only

--check-reference trains nothing: on the whole corpus and on the test split it prints how often the reference
holds exactly its source's placeholders (as a multiset, of the pairs whose reference holds one: the
"agrees with reference" figure of the source itself), the same with `%n$` positions ignored, and how often
`msgfmt -c` would accept the reference for its source (of all pairs).
The figures and settings go to --json (default benchmarks/results/translate_messages.json; --quick
writes none unless --json is given).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import tempfile
import time
from pathlib import Path

import torch

from lmlab.data.placeholders import placeholders
from lmlab.data.translation import TRANSLATION_DATA, load_tokenizers, read_parallel
from lmlab.generate.decoding import GenerationConfig
from lmlab.generate.seq2seq import translate_texts
from lmlab.models.seq2seq import preset
from lmlab.recipes.train_seq2seq import run_splits, train_seq2seq
from lmlab.runs.run import Run
from lmlab.tools.translation_metrics import (
    bleu_chrf,
    bleu_tokenizer,
    placeholder_agreement,
    printf_compatibility,
)
from lmlab.train.config import TRANSLATION_TRAIN

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mt" / "messages.en-zh.tsv"
DEFAULT_JSON = Path(__file__).parent / "results" / "translate_messages.json"


def score(hyps: list[str], refs: list[str], srcs: list[str], tokenize: str) -> dict:
    import sacrebleu
    n, total = placeholder_agreement(hyps, refs)
    c = printf_compatibility(hyps, srcs)
    bleu = sacrebleu.corpus_bleu(hyps, [refs], tokenize=tokenize)  # for its lengths (BLEU's brevity penalty)
    return {**bleu_chrf(hyps, refs, tokenize), "length_ratio": bleu.sys_len / bleu.ref_len,
            "placeholders_exact": n / max(total, 1), "placeholder_sentences": total,
            "printf_compatible": c["n"] / c["total"], "printf_compatible_with": c["n_with"] / max(c["total_with"], 1),
            "source_sentences_with": c["total_with"]}


def check_reference(data: str) -> None:
    """The references against their own sources, on the whole corpus and on the test split (see the docstring)."""
    unnumbered = lambda texts: [re.sub(r"%\d+\$", "%", t) for t in texts]  # %2$s -> %s
    pairs = read_parallel(data)[0]
    for name, split in (("whole corpus", pairs), ("test split", run_splits(data, TRANSLATION_DATA)[2])):
        srcs, refs = [p.src for p in split], [p.tgt for p in split]
        n, total = placeholder_agreement(srcs, refs)
        m, _ = placeholder_agreement(unnumbered(srcs), unnumbered(refs))
        c = printf_compatibility(refs, srcs)
        print(f"{name}: {len(split)} pairs, {total} references with a placeholder; the reference holds exactly its "
              f"source's placeholders in {n / total:.4f}, ignoring %n$ positions {m / total:.4f}; msgfmt-compatible "
              f"with its source {c['n'] / c['total']:.4f} ({c['total'] - c['n']} pairs not)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--preset", default="transformer-small")
    ap.add_argument("--time-budget", type=float, default=1200.0, help="seconds of training (default: 1200)")
    ap.add_argument("--bpe-vocab", type=int, default=8000, help="joint byte-level BPE vocabulary")
    ap.add_argument("--batch-tokens", type=int, default=2048, help="tokens per batch on the longer side")
    ap.add_argument("--lr", type=float, default=1.5e-3, help="peak learning rate")
    ap.add_argument("--warmup", type=int, default=200, help="warm-up steps")
    ap.add_argument("--schedule", default="warmup_cosine",
                    help="warmup_cosine (default: with a time budget it ends on its floor when the time is up) "
                         "or inverse_sqrt (the paper's)")
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--dtype", default="bf16", help="autocast precision: bf16 (this CPU has bf16 units) or fp32")
    ap.add_argument("--num-beams", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice, one per core)")
    ap.add_argument("--placeholder-slots", type=int, default=TRANSLATION_DATA.placeholder_slots,
                    help="reserved <phk> tokens for placeholders (default: 16; 0 = raw text, as before masking)")
    ap.add_argument("--run", help="run directory to keep (default: a temporary one)")
    ap.add_argument("--eval-run", help="evaluate this trained run instead of training one")
    ap.add_argument("--check-reference", action="store_true",
                    help="only compare the references' placeholders with their sources' (corpus and test split)")
    ap.add_argument("--quick", action="store_true", help="smoke run: no JSON unless --json is given")
    ap.add_argument("--json", help=f"where to write the results (default: {DEFAULT_JSON.relative_to(ROOT)})")
    args = ap.parse_args()
    if args.check_reference:
        return check_reference(args.data)
    if args.threads:
        torch.set_num_threads(args.threads)

    model_cfg = preset(args.preset, dropout=args.dropout)
    train_cfg = dataclasses.replace(TRANSLATION_TRAIN, max_steps=1_000_000, time_budget=args.time_budget, lr=args.lr,
                                    warmup_steps=args.warmup, schedule=args.schedule, eval_every=1000,
                                    eval_batches=10, min_lr=args.lr / 100, dtype=args.dtype)
    data_cfg = dataclasses.replace(TRANSLATION_DATA, bpe_vocab_size=args.bpe_vocab, batch_tokens=args.batch_tokens,
                                   placeholder_slots=args.placeholder_slots)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(args.eval_run or args.run or Path(tmp) / "run")
        t0 = time.perf_counter()
        if args.eval_run:
            rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
            final = {k: v for r in rows if "val_loss" in r for k, v in r.items()}
            train_s = max(r.get("time", 0) for r in rows)
        else:
            final = train_seq2seq(args.data, model_cfg, train_cfg, data_cfg, run, overwrite=bool(args.run))
            train_s = time.perf_counter() - t0
        trained = Run.open(run)
        data_cfg, args.data = trained.config("data"), trained.source
        args.preset = "run" if args.eval_run else args.preset
        model = trained.model()
        src_tok, tgt_tok = load_tokenizers(trained.path, model.cfg, trained.config("data").joint_vocab)
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        steps = max(r["step"] for r in rows)
    _, _, test, src_col, tgt_col = run_splits(args.data, data_cfg)
    srcs, refs = [p.src for p in test], [p.tgt for p in test]
    tokenize = bleu_tokenizer(tgt_col)
    results = {"reference": score(refs, refs, srcs, tokenize), "copy_source": score(srcs, refs, srcs, tokenize)}
    for name, beams in (("greedy", 1), (f"beam{args.num_beams}", args.num_beams)):
        for guard in (False, True):
            t0 = time.perf_counter()
            hyps = translate_texts(model, src_tok, tgt_tok, srcs, GenerationConfig(temperature=0.0, num_beams=beams),
                                   batch_size=64, placeholder_slots=data_cfg.placeholder_slots, keep_placeholders=guard)
            key = name + ("+guard" if guard else "")
            results[key] = {**score(hyps, refs, srcs, tokenize), "seconds": round(time.perf_counter() - t0, 1)}
            results[key]["examples"] = [{"src": s, "ref": r, "out": h} for s, r, h in zip(srcs, refs, hyps)
                                        if placeholders(s)][:12]

    print(f"\n{src_col} -> {tgt_col}: {len(test)} test messages; {args.preset} "
          f"({model.num_parameters() / 1e6:.2f}M parameters), {steps} steps in {train_s:.0f} s "
          f"({'trained before' if args.eval_run else f'budget {args.time_budget:g} s'}), final val_loss {final.get('val_loss', float('nan')):.3f}")
    print(f"slots {data_cfg.placeholder_slots}; {'system':<14} {'BLEU':>6} {'chrF':>6} {'length':>6}  printf-compatible "
          f"(all / with placeholders)  agrees with reference")
    for name, r in results.items():
        print(f"{name:<14} {r['bleu']:6.2f} {r['chrf']:6.2f} {r['length_ratio']:6.3f}  {r['printf_compatible']:.3f} / "
              f"{r['printf_compatible_with']:.3f} of {r['source_sentences_with']}  {r['placeholders_exact']:.3f} "
              f"of {r['placeholder_sentences']}")
    for ex in results["greedy+guard"]["examples"][:4]:
        print(f"  src: {ex['src']}\n  ref: {ex['ref']}\n  out: {ex['out']}")
    out = args.json or (None if args.quick else str(DEFAULT_JSON))
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        info = {"data": Path(args.data).name, "direction": f"{src_col}->{tgt_col}", "preset": args.preset,
                "parameters": model.num_parameters(), "time_budget_s": args.time_budget, "train_s": round(train_s, 1),
                "steps": steps, "final_val": final, "threads": torch.get_num_threads(), "settings": vars(args),
                "placeholder_slots": data_cfg.placeholder_slots, "bleu_tokenize": tokenize, "results": results}
        Path(out).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()

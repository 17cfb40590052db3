"""Pretrain, then fine-tune: a small BERT on fortune-cookie topics, against TF-IDF + logistic regression.

    python benchmarks/finetune_fortunes.py                 # bert-mini: 5 min pretraining, ~12 min on 2 CPU cores
    python benchmarks/finetune_fortunes.py --quick         # smoke run, under a minute (writes no JSON)
    python benchmarks/finetune_fortunes.py --labels computers,politics --freeze-layers 2 --truncation tail
    python benchmarks/finetune_fortunes.py --lora r=8,alpha=16,targets=all-linear --no-scratch --out runs/fortunes
    python benchmarks/finetune_fortunes.py --pretrained runs/fortunes/pretrained --lora r=8,targets=qkv --nf4 \
        --no-scratch --seeds 3 --json benchmarks/results/finetune_fortunes_lora.json   # reuse that encoder

Data: `../shared/data/fortunes/fortunes.en.jsonl` (14,381 Debian fortunes, 40 topic labels; a copy
can be given with --data). A few topics are kept (default: computers, politics, science, work —
frequent ones whose words differ) and split per label into train / validation / test (80/10/10,
seeded) by `lmlab.data.classification.split_examples`, the split every contestant uses.

1. Pretraining: a BERT (--preset, default bert-mini) learns masked-LM on the fortunes themselves,
   one fortune per paragraph, *all* topics but without the validation and test texts of the
   chosen ones (so no test text is ever seen, even unlabelled), for --pretrain-steps or
   --pretrain-budget seconds, whichever ends first (`lmlab.recipes.pretrain_bert`).
2. Fine-tuning: `lmlab.recipes.finetune_classify` on the train split (a [CLS] head, warm-up,
   linear decay, --lr, --freeze-layers), then accuracy and macro-F1 on the test split. With
   --pooling mean every BERT contestant's head reads the mean of the tokens instead: this encoder
   learns masked-LM only, which never trains [CLS] or the pooler.
3. The same fine-tuning from an encoder that was never pretrained (one step at lr 1e-9: its random
   initialisation), to show what pretraining is worth.
With --lora SPEC, the same pretrained encoder is also fine-tuned with LoRA (`finetune_classify(lora=...)`:
the encoder frozen, adapters + classifier trained, at --lora-lr, default 1e-3: rank-8 adapters start at zero
and want a larger rate than full fine-tuning; the larger the rank, the lower the best rate, so search it on
validation), and with --nf4 as well with QLoRA (the frozen encoder in NF4):
same encoder, same split and batch as full fine-tuning, and the same steps unless --lora-steps says otherwise
(Hu et al. trained LoRA for more epochs than full fine-tuning), so the gap in accuracy is LoRA's.
--lora may be repeated (several LoRA contestants, e.g. with and without the token embedding adapted:
targets=all-linear,tok_emb); --lora-lr and --lora-steps then come once for all or once per --lora.
--seeds N fine-tunes every contestant N times (seeds --seed … --seed+N-1: head initialisation, dropout and
batch order change; split and encoder do not) and reports the mean and standard deviation: on 300 test
texts one seed's accuracy moves by a few points, as much as the gap the LoRA goal is about.
--pretrained RUN skips step 1 and uses that BERT run (e.g. OUT/pretrained of an earlier invocation with
--out; it must come from this script with the same --labels and --seed, or its pretraining corpus may
have held test texts).
4. Baselines on the same split: the majority class of the training split, and TF-IDF (word 1-2
   grams, sublinear tf) + logistic regression (scikit-learn, C=10).
Macro-F1 is lmlab's own (`lmlab.tools.classification.macro_f1`, tested equal to scikit-learn's). The table and
every number go to --json (default benchmarks/results/finetune_fortunes.json; --quick writes none
unless --json is given, so a smoke run never replaces real results).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch

from lmlab.config import to_dict
from lmlab.data.bert_pretraining import BertDataConfig
from lmlab.data.classification import ClassificationDataConfig, keep_labels, read_examples, split_examples
from lmlab.models.bert import preset
from lmlab.models.bert.model import SEQUENCE_POOLINGS
from lmlab.nn.nf4_linear import NF4Config
from lmlab.peft.lora import parse_lora_spec
from lmlab.recipes.finetune_classify import finetune_classify, with_classifier
from lmlab.recipes.pretrain_bert import pretrain_bert
from lmlab.tools.classification import macro_f1
from lmlab.train.config import FINETUNE_TRAIN, FinetuneConfig, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "fortunes" / "fortunes.en.jsonl"
DEFAULT_JSON = Path(__file__).parent / "results" / "finetune_fortunes.json"
SIDECAR = "fortunes_pretraining.json"  # in the pretrained run: what a later --pretrained reports


def paragraph(text: str) -> str:
    """A fortune as one paragraph: its non-empty lines, stripped (pretraining splits at blank lines)."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def tfidf_baseline(train: list[dict], test: list[dict], seed: int) -> tuple[list[str], float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    clf = LogisticRegression(C=10.0, max_iter=2000, random_state=seed)
    clf.fit(vec.fit_transform([e["text"] for e in train]), [e["label"] for e in train])
    return list(clf.predict(vec.transform([e["text"] for e in test]))), time.perf_counter() - t0


def scores(y_true: list[str], y_pred: list[str], labels: list[str]) -> dict:
    ids = {lab: i for i, lab in enumerate(labels)}
    t, p = [ids[y] for y in y_true], [ids[y] for y in y_pred]
    return {"accuracy": sum(a == b for a, b in zip(t, p)) / len(t), "macro_f1": macro_f1(t, p)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--labels", default="computers,politics,science,work")
    ap.add_argument("--preset", default="bert-mini")
    ap.add_argument("--vocab", type=int, default=8000, help="WordPiece vocabulary of the pretraining run")
    ap.add_argument("--pretrain-steps", type=int, default=3000)
    ap.add_argument("--pretrain-budget", type=float, default=300.0, help="seconds of pretraining at most")
    ap.add_argument("--pretrain-lr", type=float, default=1e-3)
    ap.add_argument("--finetune-steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=2e-4, help="fine-tuning peak learning rate")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--truncation", default="head", choices=("head", "tail", "head+tail", "sliding-window"))
    ap.add_argument("--freeze-layers", type=int, default=0)
    ap.add_argument("--no-scratch", action="store_true", help="skip the never-pretrained contestant")
    ap.add_argument("--lora", metavar="SPEC", action="append",
                    help="also fine-tune with LoRA, e.g. r=8,alpha=16,targets=all-linear (the --lora of `lmlab "
                         "finetune classify`); repeat for several LoRA contestants")
    ap.add_argument("--pooling", choices=SEQUENCE_POOLINGS, default="cls",
                    help="what every BERT contestant's head reads: cls (BERT's pooler on [CLS]) or mean (the mean "
                         "of the tokens; the encoder here is pretrained by MLM alone, so [CLS] never trained)")
    ap.add_argument("--lora-lr", type=float, action="append",
                    help="peak learning rate of the LoRA fine-tune (default 1e-3); once for all, or once per --lora")
    ap.add_argument("--lora-steps", type=int, action="append",
                    help="steps of the LoRA fine-tune (default: --finetune-steps; Hu et al. gave LoRA more epochs "
                         "than full fine-tuning); once for all, or once per --lora")
    ap.add_argument("--seeds", type=int, default=1, help="fine-tune each contestant with this many seeds (--seed, "
                                                         "--seed+1, ...): the table gives the mean and the spread")
    ap.add_argument("--nf4", action="store_true", help="with --lora: also QLoRA (the frozen encoder in NF4)")
    ap.add_argument("--pretrained", metavar="RUN", help="skip pretraining: use this BERT run (from an earlier "
                                                        "run of this script with --out, same --labels and --seed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="keep the runs in this folder (default: a temporary one)")
    ap.add_argument("--reuse", action="store_true",
                    help="with --out: a contestant's seed whose run in --out finished with the very same settings "
                         "(encoder, data, training, head, LoRA) is read back instead of trained again")
    ap.add_argument("--json", help=f"results file (default {DEFAULT_JSON.relative_to(ROOT)}; none with --quick)")
    ap.add_argument("--quick", action="store_true", help="bert-tiny, 2 labels, few steps: a smoke run")
    args = ap.parse_args()
    specs = args.lora or []
    loras = [parse_lora_spec(s) for s in specs]
    if args.nf4 and not loras:
        ap.error("--nf4 (QLoRA) goes with --lora SPEC")

    def per_spec(values: list | None, default, flag: str) -> list:
        values = values or [default]
        if len(values) not in (1, len(specs)):
            ap.error(f"give {flag} once, or once per --lora ({len(specs)})")
        return values * len(specs) if len(values) == 1 else values
    lora_lrs, lora_steps = per_spec(args.lora_lr, 1e-3, "--lora-lr"), per_spec(args.lora_steps, None, "--lora-steps")
    if args.quick:
        args.preset, args.vocab, args.pretrain_steps, args.finetune_steps = "bert-tiny", 1000, 150, 150
        args.max_len, args.batch_size, args.lr, args.labels = 64, 16, 1e-3, "computers,politics"
    t_start = time.perf_counter()

    # the split every contestant uses
    data_cfg = ClassificationDataConfig(labels=args.labels, max_len=args.max_len, truncation=args.truncation,
                                        split_seed=args.seed)
    everything = read_examples(args.data)
    chosen = keep_labels(everything, args.labels)
    if args.quick:  # the first 150 texts of each label
        seen: Counter = Counter()
        kept = []
        for e in chosen:
            seen[e["label"]] += 1
            if seen[e["label"]] <= 150:
                kept.append(e)
        chosen = kept
    train, val, test = split_examples(chosen, data_cfg.val_fraction, data_cfg.test_fraction, data_cfg.split_seed)
    labels = sorted({e["label"] for e in chosen})
    held_out = {e["text"] for e in val + test}
    corpus = [paragraph(e["text"]) for e in everything if e["text"] not in held_out]
    print(f"{len(labels)} labels ({', '.join(labels)}): {len(train)} / {len(val)} / {len(test)} train / val / "
          f"test texts; pretraining corpus {len(corpus):,} fortunes")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.out or tmp)
        work.mkdir(parents=True, exist_ok=True)
        data_file = work / "chosen.jsonl"
        data_file.write_text("".join(json.dumps(e) + "\n" for e in chosen), encoding="utf-8")
        (work / "corpus.txt").write_text("\n\n".join(corpus), encoding="utf-8")
        model_cfg = preset(args.preset, max_seq_len=max(128, args.max_len))
        pre_cfg = TrainConfig(max_steps=args.pretrain_steps, batch_size=args.batch_size, lr=args.pretrain_lr,
                              min_lr=args.pretrain_lr / 10, warmup_steps=min(200, args.pretrain_steps // 10),
                              weight_decay=0.01, eval_every=max(1, args.pretrain_steps // 5), eval_batches=10,
                              time_budget=0.0 if args.quick else args.pretrain_budget, seed=args.seed)
        bert_data = BertDataConfig(tokenizer_vocab_size=args.vocab, max_len=min(128, args.max_len),
                                   sentence_task="none", val_fraction=0.02)
        t0 = time.perf_counter()
        pretrained = Path(args.pretrained) if args.pretrained else work / "pretrained"
        if args.pretrained:  # an earlier invocation's encoder: its last evaluation stands for `pre`
            rows_pre = list(map(json.loads, (pretrained / "metrics.jsonl").open()))
            pre = [r for r in rows_pre if "val_mlm_acc" in r][-1]
            side = pretrained / SIDECAR
            info = json.loads(side.read_text()) if side.is_file() else {}
            pre_time, args.preset = info.get("seconds", float("nan")), info.get("preset", args.preset)
        else:
            pre = pretrain_bert(str(work / "corpus.txt"), model_cfg, pre_cfg, bert_data, pretrained,
                                overwrite=True, quiet=True)
            pre_time = time.perf_counter() - t0
            (pretrained / SIDECAR).write_text(json.dumps({"seconds": pre_time, "preset": args.preset, "labels":
                                                          args.labels, "seed": args.seed}) + "\n")  # for --pretrained
        pre_steps = max(r["step"] for r in map(json.loads, (pretrained / "metrics.jsonl").open()))
        print(f"{'reused' if args.pretrained else 'pretrained'} {args.preset} ({pre_steps} steps, {pre_time:.0f} s): "
              f"val MLM accuracy {pre['val_mlm_acc']:.3f}, loss {pre['val_mlm_loss']:.3f}")

        ft_cfg = dataclasses.replace(FINETUNE_TRAIN, max_steps=args.finetune_steps, lr=args.lr,
                                     warmup_steps=max(1, args.finetune_steps // 10), batch_size=args.batch_size,
                                     eval_every=max(1, args.finetune_steps // 4), seed=args.seed)
        rows = []

        def finished(run_dir: Path, encoder_dir: Path, cfg: TrainConfig, head: FinetuneConfig, lora,
                     nf4) -> dict | None:
            """--reuse: the results of a finished fine-tune in run_dir made with exactly these settings, or None."""
            if nf4 is not None or not (run_dir / "results.json").is_file():
                return None
            meta = json.loads((run_dir / "config.json").read_text())
            want = {"encoder": str(encoder_dir), "train": to_dict(cfg), "data": to_dict(data_cfg),
                    "finetune": to_dict(head), "lora": to_dict(with_classifier(lora)) if lora else None}
            if any(json.loads(json.dumps(v)) != meta.get(k) for k, v in want.items()):
                return None
            print(f"  (reusing {run_dir}: same settings, finished)")
            times = [r["time"] for r in map(json.loads, (run_dir / "metrics.jsonl").open()) if "time" in r]
            return {**json.loads((run_dir / "results.json").read_text()), "seconds": max(times, default=0.0)}

        def finetune(name: str, encoder_dir: Path, run: str, lora=None, lr=None, nf4=None, steps=None) -> None:
            """One contestant, fine-tuned once per seed (same split, same encoder); its row holds the mean."""
            t0 = time.perf_counter()
            cfg = dataclasses.replace(ft_cfg, lr=lr or ft_cfg.lr, max_steps=steps or ft_cfg.max_steps,
                                      warmup_steps=max(1, (steps or ft_cfg.max_steps) // 10),
                                      eval_every=max(1, (steps or ft_cfg.max_steps) // 4))
            per_seed = []
            head = FinetuneConfig(0 if lora else args.freeze_layers, pooling=args.pooling)
            for i in range(args.seeds):
                seed_cfg, run_dir = dataclasses.replace(cfg, seed=args.seed + i), work / f"{run}-{i}"
                res = finished(run_dir, encoder_dir, seed_cfg, head, lora, nf4) if args.reuse else None
                if res is None:
                    res = finetune_classify(encoder_dir, data_file, data_cfg, seed_cfg, head, run_dir,
                                            overwrite=True, quiet=True, lora=lora, nf4=nf4)
                per_seed.append(res)
                print(f"  {name}, seed {args.seed + i}: accuracy {res['test_accuracy']:.3f}, macro-F1 "
                      f"{res['test_macro_f1']:.3f} (val {res['val_accuracy']:.3f})", flush=True)
            acc = torch.tensor([r["test_accuracy"] for r in per_seed], dtype=torch.float64)
            rows.append({"model": name, "accuracy": acc.mean().item(),
                         "accuracy_std": acc.std().item() if len(acc) > 1 else 0.0,
                         "macro_f1": sum(r["test_macro_f1"] for r in per_seed) / len(per_seed),
                         "per_seed": [{k: r[k] for k in ("test_accuracy", "test_macro_f1", "val_accuracy")}
                                      for r in per_seed],
                         "trainable_params": per_seed[0]["trainable_params"], "lr": cfg.lr, "steps": cfg.max_steps,
                         "seconds": time.perf_counter() - t0 + sum(r.get("seconds", 0.0) for r in per_seed),
                         "confusion_matrix": per_seed[0]["confusion_matrix"]})

        finetune(f"{args.preset}, pretrained + fine-tuned", pretrained, "finetuned")
        lora_rows = []  # the same encoder, split and batch; only the adapters and the head train
        for k, (spec, lora, lr, steps) in enumerate(zip(specs, loras, lora_lrs, lora_steps)):
            tag = str(k) if k else ""
            finetune(f"{args.preset}, pretrained + LoRA ({spec})", pretrained, f"lora{tag}", lora, lr, steps=steps)
            lora_rows.append(rows[-1])
            if args.nf4:
                finetune(f"{args.preset}, pretrained + QLoRA ({spec}, NF4)", pretrained, f"qlora{tag}", lora, lr,
                         NF4Config(), steps=steps)
                lora_rows.append(rows[-1])
        if not args.no_scratch:
            scratch = dataclasses.replace(pre_cfg, max_steps=1, lr=1e-9, min_lr=0.0, warmup_steps=0, eval_every=1,
                                          eval_batches=1, time_budget=0.0)
            pretrain_bert(str(work / "corpus.txt"), model_cfg, scratch, bert_data, work / "random", overwrite=True,
                          quiet=True)
            finetune(f"{args.preset}, no pretraining", work / "random", "finetuned-from-random")

        y_true = [e["label"] for e in test]
        pred, secs = tfidf_baseline(train, test, args.seed)
        rows.append({"model": "TF-IDF 1-2 grams + logistic regression", **scores(y_true, pred, labels),
                     "seconds": secs})
        majority = Counter(e["label"] for e in train).most_common(1)[0][0]
        rows.append({"model": f"majority class ({majority})", **scores(y_true, [majority] * len(y_true), labels),
                     "seconds": 0.0})

    print(f"\ntest split: {len(test)} fortunes, {len(labels)} topics; truncation {args.truncation}, "
          f"max_len {args.max_len}, freeze_layers {args.freeze_layers}, {args.pooling} pooling")
    print(f"{'model':<64} {'accuracy':>14} {'macro-F1':>9} {'seconds':>8}")
    for r in rows:
        spread = f" ± {r['accuracy_std']:.3f}" if r.get("accuracy_std") else ""
        print(f"{r['model']:<64} {r['accuracy']:>6.3f}{spread:>8} {r['macro_f1']:>9.3f} {r['seconds']:>8.1f}")
    gaps = {}
    if loras:  # the goal: LoRA within 2 points of full fine-tuning's accuracy
        full = rows[0]["accuracy"]
        for r in lora_rows:
            gaps[r["model"]] = full - r["accuracy"]
            mean = f" (means of {args.seeds} seeds)" if args.seeds > 1 else ""
            print(f"{r['model']}: {100 * (full - r['accuracy']):.1f} points below full fine-tuning{mean} "
                  f"(goal ≤ 2: {'met' if full - r['accuracy'] <= 0.02 else 'not met'})")
    print(f"total {time.perf_counter() - t_start:.0f} s")
    out = args.json or (None if args.quick else str(DEFAULT_JSON))
    if out:
        record = {"args": vars(args), "labels": labels, "n_train": len(train), "n_val": len(val), "n_test": len(test),
                  "pretraining": {"steps": pre_steps, "seconds": pre_time, **pre}, "results": rows,
                  "accuracy_gap_to_full": gaps,
                  "torch": torch.__version__, "threads": torch.get_num_threads()}
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()

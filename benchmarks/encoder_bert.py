"""Encoder forward throughput: lmlab BertModel against Hugging Face BertModel (sdpa), same weights.

    python benchmarks/encoder_bert.py                      # bert-base shape, B 32, T 128, fp32 and bf16
    python benchmarks/encoder_bert.py --dtypes fp32 --rounds 30
    python benchmarks/encoder_bert.py --padding random     # right-padded batch (lengths T/2 … T)
    python benchmarks/encoder_bert.py --bf16 cast          # weights cast to bf16 instead of autocast
    python benchmarks/encoder_bert.py --quick              # a short smoke run (bert-mini, B 4, T 32)

Issue goal: lmlab ≥ 1.0× HF sequences/s. A BertModel of the chosen preset (default bert-base:
110M parameters, vocab 30522) is built in transformers with random weights and `attn_implementation
="sdpa"`, saved, and loaded into lmlab with lmlab's importer (`load_hf_bert(head="base")`), so both
hold the same weights; the script checks their hidden states and pooled outputs agree before timing.

One timed step = one forward of the encoder with its pooler on a batch of B random sequences of T
tokens (segment ids 0 for the first half, 1 for the second, an attention mask of ones unless
`--padding random`), under torch.no_grad(), both models in eval mode. fp32: as built. bf16: by
default both forwards run under torch.autocast(bfloat16) with fp32 weights (what mixed-precision
inference does); `--bf16 cast` instead casts both models' weights to bf16 (`.to(torch.bfloat16)`).

Both models run in one process with the same thread count, interleaved step by step with
alternating order (HF, lmlab, lmlab, HF, …), after `--warmup` untimed steps each, so a busy
machine slows both alike. The table gives median ms/step (p25–p75), sequences/s from the median,
the ratio of medians (lmlab seq/s ÷ HF seq/s, > 1 = lmlab faster) and the ratio of fastest steps.
Every number goes to --json (default benchmarks/results/encoder_bert.json; --quick writes none
unless --json is given, so a smoke run never replaces real results).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from lmlab.io.hf_bert import hf_config_from_bert, load_hf_bert
from lmlab.models.bert.presets import PRESETS, preset

DEFAULT_JSON = Path(__file__).parent / "results" / "encoder_bert.json"


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def build_pair(name: str, device: str):
    """HF BertModel (sdpa) with random weights and the lmlab BertModel loaded from its saved folder."""
    from transformers import BertConfig as HFBertConfig
    from transformers import BertModel as HFBertModel

    cfg = preset(name, dropout=0.0)
    torch.manual_seed(0)
    hf = HFBertModel(HFBertConfig(**hf_config_from_bert(cfg), attn_implementation="sdpa"))
    with tempfile.TemporaryDirectory() as tmp:
        hf.save_pretrained(tmp)
        ours = load_hf_bert(tmp, head="base")
    return hf.to(device).eval(), ours.to(device).eval(), cfg


def make_batch(cfg, B: int, T: int, padding: str, device: str, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, cfg.vocab_size, (B, T), generator=g)
    lengths = torch.full((B,), T) if padding == "none" else torch.randint(T // 2, T + 1, (B,), generator=g)
    mask = torch.arange(T)[None] < lengths[:, None]                             # (B, T) True = real
    seg = ((torch.arange(T)[None] >= (lengths // 2)[:, None]) & mask).long()
    ids = ids.masked_fill(~mask, 0)
    return ids.to(device), seg.to(device), mask.long().to(device)


def run_hf(model, batch):
    ids, seg, mask = batch
    out = model(input_ids=ids, token_type_ids=seg, attention_mask=mask)
    return out.last_hidden_state, out.pooler_output


def run_lmlab(model, batch):
    ids, seg, mask = batch
    return model(ids, seg, mask)


def agree(hf, ours, batch, ctx) -> tuple[float, float]:
    """Max |difference| of hidden states at real tokens and of pooled outputs."""
    with torch.no_grad(), ctx():
        (h1, p1), (h2, p2) = run_hf(hf, batch), run_lmlab(ours, batch)
    real = batch[2].bool()
    return (h1[real].float() - h2[real].float()).abs().max().item(), (p1.float() - p2.float()).abs().max().item()


def time_pair(hf, ours, batch, ctx, rounds: int, warmup: int, device: str) -> dict[str, list[float]]:
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    fns = {"hf": lambda: run_hf(hf, batch), "lmlab": lambda: run_lmlab(ours, batch)}
    times: dict[str, list[float]] = {"hf": [], "lmlab": []}
    with torch.no_grad(), ctx():
        for _ in range(warmup):
            for fn in fns.values():
                fn()
        for r in range(rounds):
            for name in (("hf", "lmlab") if r % 2 == 0 else ("lmlab", "hf")):
                sync()
                t = time.perf_counter()
                fns[name]()
                sync()
                times[name].append(time.perf_counter() - t)
    return times


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--preset", choices=sorted(PRESETS), default="bert-base")
    p.add_argument("--batch", type=int, default=32, help="B, sequences per step")
    p.add_argument("--seq_len", type=int, default=128, help="T, tokens per sequence")
    p.add_argument("--dtypes", default="fp32,bf16", help="comma-separated: fp32, bf16")
    p.add_argument("--bf16", choices=("autocast", "cast"), default="autocast",
                   help="bf16 by autocast with fp32 weights (default) or by casting the weights")
    p.add_argument("--padding", choices=("none", "random"), default="none")
    p.add_argument("--rounds", type=int, default=20, help="timed steps per model")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per model first")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--quick", action="store_true", help="bert-mini, B 4, T 32, 3 rounds (smoke test)")
    p.add_argument("--json", metavar="PATH",
                   help="where to write the numbers (default benchmarks/results/encoder_bert.json; "
                        "with --quick none)")
    args = p.parse_args(argv)
    if args.quick:
        args.preset, args.batch, args.seq_len, args.rounds, args.warmup = "bert-mini", 4, 32, 3, 1
    elif args.json is None:
        args.json = str(DEFAULT_JSON)
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    hf, ours, cfg = build_pair(args.preset, args.device)
    batch = make_batch(cfg, args.batch, args.seq_len, args.padding, args.device)
    n_params = ours.num_parameters()
    print(f"{args.preset}: {n_params:,} parameters, B {args.batch}, T {args.seq_len}, padding {args.padding}, "
          f"{args.threads} threads, device {args.device}, torch {torch.__version__}")
    results = []
    for dtype in args.dtypes.split(","):
        if dtype not in ("fp32", "bf16"):
            raise SystemExit(f"unknown dtype {dtype!r} (fp32, bf16)")
        ctx = contextlib.nullcontext
        mode = "fp32"
        if dtype == "bf16" and args.bf16 == "autocast":
            ctx = lambda: torch.autocast(args.device, dtype=torch.bfloat16)  # noqa: E731
            mode = "bf16 autocast (fp32 weights)"
        hf_m, ours_m = hf, ours
        if dtype == "bf16" and args.bf16 == "cast":
            hf_m, ours_m = hf.to(torch.bfloat16), ours.to(torch.bfloat16)
            mode = "bf16 weights (cast)"
        d_hidden, d_pooled = agree(hf_m, ours_m, batch, ctx)
        times = time_pair(hf_m, ours_m, batch, ctx, args.rounds, args.warmup, args.device)
        med = {k: statistics.median(v) for k, v in times.items()}
        row = {"dtype": dtype, "mode": mode,
               "max_diff_hidden": d_hidden, "max_diff_pooled": d_pooled,
               **{f"{k}_ms_median": 1e3 * med[k] for k in times},
               **{f"{k}_ms_p25": 1e3 * quantile(times[k], 0.25) for k in times},
               **{f"{k}_ms_p75": 1e3 * quantile(times[k], 0.75) for k in times},
               **{f"{k}_seq_per_s": args.batch / med[k] for k in times},
               "ratio_of_medians": med["hf"] / med["lmlab"],
               "ratio_of_fastest": min(times["hf"]) / min(times["lmlab"]),
               "all_times_s": times}
        results.append(row)
        if dtype == "bf16" and args.bf16 == "cast":
            hf.float(), ours.float()

    print(f"\n{'dtype':<30} {'model':<6} {'ms/step (p25-p75)':>26} {'seq/s':>9} {'lmlab/HF':>9} {'fastest':>8}")
    for r in results:
        for k in ("hf", "lmlab"):
            span = f"{r[f'{k}_ms_median']:.1f} ({r[f'{k}_ms_p25']:.1f}-{r[f'{k}_ms_p75']:.1f})"
            ratio = f"{r['ratio_of_medians']:.2f}x" if k == "lmlab" else ""
            fast = f"{r['ratio_of_fastest']:.2f}x" if k == "lmlab" else ""
            print(f"{r['mode']:<30} {k:<6} {span:>26} {r[f'{k}_seq_per_s']:>9.1f} {ratio:>9} {fast:>8}")
        print(f"{'':<30} outputs agree: hidden {r['max_diff_hidden']:.1e}, pooled {r['max_diff_pooled']:.1e}")
    print("\ngoal: lmlab/HF ≥ 1.00x (sequences/s, ratio of medians)")

    out = {"preset": args.preset, "parameters": n_params, "batch": args.batch, "seq_len": args.seq_len,
           "padding": args.padding, "threads": args.threads, "device": args.device, "torch": torch.__version__,
           "rounds": args.rounds, "warmup": args.warmup, "quick": args.quick, "results": results}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

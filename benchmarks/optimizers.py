"""Optimizer step time: each lmlab optimizer against its torch.optim counterpart (foreach=True).

    python benchmarks/optimizers.py                  # ~14M-parameter GPT, all cores
    python benchmarks/optimizers.py --quick          # a small model and a few steps (smoke test)
    python benchmarks/optimizers.py --only adamw,adam --rounds 50 --threads 1

What is measured: `optimizer.step()` alone, nothing else. One forward + backward of an lmlab GPT
(default: d_model 384, 6 layers, 6 heads, vocab 8192, T 256, B 8; nanoGPT's Shakespeare shape with
an 8192-token vocabulary, 13.9M parameters) makes real gradients once; every contestant owns a copy
of the model, gets those gradients, and then steps repeatedly on them (the values do not change the
work an elementwise optimizer does). Parameters are grouped as the Trainer groups them (decayed
matrices, undecayed biases and norms; weight decay 0.1), hyper-parameters are equal within a pair.

Noise: all contestants run in one process, interleaved. Each round runs `--steps` timed steps of
every contestant, in an order that rotates from round to round, after `--warmup` untimed steps
each (which also allocate the optimizer state). The table gives the median ms per step (and p25-p75)
over all timed steps, and the ratio lmlab / torch of the medians (goal ≤ 1.1). torch's fused AdamW
kernel (the `torch-adamw` registry entry) is listed as well; FTRL has no torch counterpart.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from lmlab.models.gpt.config import GPTConfig
from lmlab.models.gpt.model import GPT
from lmlab.optim.adagrad import AdaGrad
from lmlab.optim.adam import Adam, AdamW
from lmlab.optim.ftrl import FTRL
from lmlab.optim.param_groups import decay_groups
from lmlab.optim.rmsprop import RMSProp
from lmlab.optim.sgd import SGD

# pair name -> (lmlab optimizer, torch.optim reference or None), both taking param groups
PAIRS = {
    "sgd": (lambda g: SGD(g, lr=1e-2), lambda g: torch.optim.SGD(g, lr=1e-2, foreach=True)),
    "momentum": (lambda g: SGD(g, lr=1e-2, momentum=0.9),
                 lambda g: torch.optim.SGD(g, lr=1e-2, momentum=0.9, foreach=True)),
    "nesterov": (lambda g: SGD(g, lr=1e-2, momentum=0.9, nesterov=True),
                 lambda g: torch.optim.SGD(g, lr=1e-2, momentum=0.9, nesterov=True, foreach=True)),
    "adagrad": (lambda g: AdaGrad(g, lr=1e-2), lambda g: torch.optim.Adagrad(g, lr=1e-2, foreach=True)),
    "rmsprop": (lambda g: RMSProp(g, lr=1e-3), lambda g: torch.optim.RMSprop(g, lr=1e-3, foreach=True)),
    "adam": (lambda g: Adam(g, lr=1e-3), lambda g: torch.optim.Adam(g, lr=1e-3, foreach=True)),
    "adamw": (lambda g: AdamW(g, lr=1e-3), lambda g: torch.optim.AdamW(g, lr=1e-3, foreach=True)),
    "ftrl": (lambda g: FTRL(g, alpha=0.1, l1=1e-4), None),
}
FUSED = "adamw (torch fused)"


def make_contestants(cfg: GPTConfig, names: list[str], batch: int, seed: int, device: torch.device) -> dict:
    """name -> (model copy with gradients, optimizer); gradients from one real forward/backward."""
    torch.manual_seed(seed)
    base = GPT(cfg).to(device)
    idx = torch.randint(0, cfg.vocab_size, (batch, cfg.max_seq_len + 1), device=device)
    logits = base(idx[:, :-1])  # (B, T, V)
    F.cross_entropy(logits.reshape(-1, cfg.vocab_size), idx[:, 1:].reshape(-1)).backward()
    grads = {n: p.grad.clone() for n, p in base.named_parameters()}

    def copy_with_grads():
        model = copy.deepcopy(base)
        for n, p in model.named_parameters():
            p.grad = grads[n].clone()
        return model

    out = {}
    for name in names:
        ours, ref = PAIRS[name]
        for label, make in ((f"{name} lmlab", ours), (f"{name} torch", ref)):
            if make is not None:
                model = copy_with_grads()
                out[label] = (model, make(decay_groups(model, 0.1)))
        if name == "adamw":
            model = copy_with_grads()
            out[FUSED] = (model, torch.optim.AdamW(decay_groups(model, 0.1), lr=1e-3, fused=True))
    return out


def run(contestants: dict, rounds: int, steps: int, warmup: int, quiet: bool,
        device: torch.device) -> dict[str, list[float]]:
    """Interleaved timing of optimizer.step(); returns per-step seconds for each contestant."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    names = list(contestants)
    for name in names:
        for _ in range(warmup):
            contestants[name][1].step()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            opt = contestants[name][1]
            for _ in range(steps):
                sync()
                t0 = time.perf_counter()
                opt.step()
                sync()  # on a GPU: the kernels' time, not just the launches
                times[name].append(time.perf_counter() - t0)
        if not quiet:
            print(f"round {r + 1}/{rounds}: " + "  ".join(f"{n} {1e3 * times[n][-1]:.2f}" for n in names), flush=True)
    return times


def summarize(times: dict[str, list[float]]) -> dict:
    rows = {}
    for name, ts in times.items():
        q = statistics.quantiles(ts, n=4) if len(ts) > 1 else [ts[0]] * 3
        rows[name] = dict(median_ms=1e3 * statistics.median(ts), p25_ms=1e3 * q[0], p75_ms=1e3 * q[2],
                          min_ms=1e3 * min(ts), n=len(ts))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--d_model", type=int, default=384)
    p.add_argument("--n_layers", type=int, default=6)
    p.add_argument("--n_heads", type=int, default=6)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--seq_len", type=int, default=256, help="T of the one forward/backward that makes gradients")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(PAIRS)}")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--steps", type=int, default=3, help="timed steps per contestant per round")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per contestant before round 1")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--quiet_rounds", action="store_true", help="do not print a line per round")
    p.add_argument("--quick", action="store_true", help="a small model and a few steps (smoke test; no JSON)")
    p.add_argument("--json", default="benchmarks/results/optimizers.json", help="where to write the results")
    args = p.parse_args()
    if args.quick:
        args.d_model, args.n_layers, args.n_heads, args.vocab, args.seq_len, args.batch = 128, 2, 4, 1024, 64, 2
        args.rounds, args.steps, args.warmup = 3, 2, 1
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(PAIRS)
    unknown = [n for n in names if n not in PAIRS]
    if unknown:
        p.error(f"unknown optimizer(s) {', '.join(unknown)}; choose from {', '.join(PAIRS)}")

    torch.set_num_threads(args.threads)
    cfg = GPTConfig(vocab_size=args.vocab, max_seq_len=args.seq_len, d_model=args.d_model, n_heads=args.n_heads,
                    n_layers=args.n_layers)
    device = torch.device(args.device)
    contestants = make_contestants(cfg, names, args.batch, args.seed, device)
    n_params = sum(p.numel() for p in next(iter(contestants.values()))[0].parameters())
    n_tensors = sum(1 for _ in next(iter(contestants.values()))[0].parameters())
    print(f"GPT d_model {args.d_model}, {args.n_layers} layers, vocab {args.vocab}: {n_params / 1e6:.1f}M parameters "
          f"in {n_tensors} tensors; torch {torch.__version__}, {device}, {args.threads} threads; "
          f"{args.rounds} rounds x {args.steps} steps, interleaved")
    times = run(contestants, args.rounds, args.steps, args.warmup, args.quiet_rounds, device)
    rows = summarize(times)

    print(f"\n{'optimizer':<22}{'lmlab ms':>10}{'torch ms':>10}{'ratio':>8}   (median; p25-p75 lmlab | torch)")
    ratios = {}
    for name in names:
        mine, ref = rows[f"{name} lmlab"], rows.get(f"{name} torch")
        if ref is None:
            print(f"{name:<22}{mine['median_ms']:>10.2f}{'-':>10}{'-':>8}   "
                  f"{mine['p25_ms']:.2f}-{mine['p75_ms']:.2f} | (no torch.optim counterpart)")
            continue
        ratios[name] = mine["median_ms"] / ref["median_ms"]
        print(f"{name:<22}{mine['median_ms']:>10.2f}{ref['median_ms']:>10.2f}{ratios[name]:>8.2f}   "
              f"{mine['p25_ms']:.2f}-{mine['p75_ms']:.2f} | {ref['p25_ms']:.2f}-{ref['p75_ms']:.2f}")
    if FUSED in rows:
        fused = rows[FUSED]
        print(f"{FUSED:<22}{'':>10}{fused['median_ms']:>10.2f}{'':>8}   {fused['p25_ms']:.2f}-{fused['p75_ms']:.2f}"
              f"  (lmlab adamw / fused: {rows['adamw lmlab']['median_ms'] / fused['median_ms']:.2f})")

    if not args.quick:
        out = dict(
            what="optimizer.step() time, lmlab vs torch.optim foreach=True; median over interleaved steps",
            model=dict(d_model=args.d_model, n_layers=args.n_layers, n_heads=args.n_heads, vocab=args.vocab,
                       parameters=n_params, tensors=n_tensors),
            device=str(device), gpu=torch.cuda.get_device_name() if device.type == "cuda" else None,
            threads=args.threads, rounds=args.rounds, steps=args.steps, warmup=args.warmup,
            torch=torch.__version__, python=platform.python_version(), machine=platform.machine(),
            processor=platform.processor(), rows=rows, ratio_lmlab_over_torch=ratios,
        )
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"results in {args.json}")


if __name__ == "__main__":
    main()

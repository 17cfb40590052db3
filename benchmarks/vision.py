"""Vision training throughput: lmlab ViT against its Hugging Face twin, forward + backward, same weights.

    python benchmarks/vision.py                       # vit-b16 shape, 224², batch 8, fp32
    python benchmarks/vision.py --rounds 10 --json benchmarks/results/vision_vit.json
    python benchmarks/vision.py --kernels auto,torch  # lmlab with oneDNN linears and with F.linear (as HF)
    python benchmarks/vision.py --quick               # a short smoke run (vit-tiny shape, batch 4)

Issue goal: lmlab ViT ≥ 1.0× HF images/s at vit-b16's shape (86.6M parameters, 224² RGB, 16×16 patches,
1000 classes) on batches of 8 in fp32; where both call the same kernels, a tie within 5 % passes and is
reported as a tie. A ViTForImageClassification is built in transformers with random weights and
`attn_implementation="sdpa"`, saved, and loaded into lmlab with lmlab's importer (`load_hf_vit`), so both
hold the same weights; the script checks that their logits agree before timing.

One timed step = zero the gradients, forward a batch of B random images, cross-entropy against random
labels, backward (no optimizer step: the same for both, and not what is compared). Both models are in
train mode with dropout 0. Both run in one process with the same thread count, interleaved step by step
with alternating order (HF, lmlab, lmlab, HF, …) after `--warmup` untimed steps each, so a busy machine
slows both alike. The table gives median s/step (p25–p75), images/s from the median and the ratio of
medians (lmlab ÷ HF, > 1 = lmlab faster). Every number goes to --json (default
benchmarks/results/vision_vit.json; --quick writes none unless --json is given).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from lmlab.io.hf_vit import hf_config_from_vit, load_hf_vit
from lmlab.models.vit import preset
from lmlab.ops.cpu import cpu_info
from lmlab.ops.linear import set_linear_kernel

DEFAULT_JSON = Path(__file__).parent / "results" / "vision_vit.json"


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def build_pair(name: str, **overrides):
    """HF ViTForImageClassification (sdpa) with random weights, and the lmlab twin loaded from its saved folder."""
    from transformers import ViTConfig as HFViTConfig
    from transformers import ViTForImageClassification as HFViT

    cfg = preset(name, dropout=0.0, **overrides)
    torch.manual_seed(0)
    hf = HFViT(HFViTConfig(**hf_config_from_vit(cfg), attn_implementation="sdpa"))
    with tempfile.TemporaryDirectory() as tmp:
        hf.save_pretrained(tmp)
        ours = load_hf_vit(tmp)
    return hf.train(), ours.train(), cfg


def steps(hf, ours, images, labels, kernels: list[str], bf16: bool = False) -> dict:
    """One step function per model: HF, and lmlab with each CPU fp32 linear kernel asked for (lmlab.ops.linear:
    "auto" sends its products to oneDNN, "torch" to F.linear, the kernel HF's nn.Linear calls)."""
    def hf_step():
        hf.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(hf(pixel_values=images).logits, labels)
        loss.backward()

    def lmlab_step(kernel: str):
        def step():
            previous = set_linear_kernel(kernel)
            try:
                ours.zero_grad(set_to_none=True)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    loss = F.cross_entropy(ours(images), labels)
                loss.backward()
            finally:
                set_linear_kernel(previous)
        return step
    return {"hf": hf_step, **{f"lmlab ({k} linear)" if len(kernels) > 1 else "lmlab": lmlab_step(k) for k in kernels}}


def time_pair(fns: dict, rounds: int, warmup: int) -> dict[str, list[float]]:
    """Each step function `rounds` times, interleaved; the order rotates every round."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t)
    return times


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--preset", default="vit-b16")
    p.add_argument("--batch", type=int, default=8, help="B, images per step")
    p.add_argument("--rounds", type=int, default=6, help="timed steps per model")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps per model first")
    p.add_argument("--quick", action="store_true", help="vit-tiny shape (32², 4×4 patches), batch 4, 3 rounds")
    p.add_argument("--kernels", default="auto", help="lmlab's CPU fp32 linear kernels to time, comma-separated: "
                                                     "auto (oneDNN), torch (F.linear, as HF)")
    p.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32",
                   help="bf16: forward and loss of both under torch.autocast (for CPUs with native bf16)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.preset, args.batch, args.rounds = "vit-tiny", 4, 3
    hf, ours, cfg = build_pair(args.preset)
    g = torch.Generator().manual_seed(0)
    images = torch.randn(args.batch, cfg.n_channels, cfg.image_size, cfg.image_size, generator=g)
    labels = torch.randint(0, cfg.n_classes, (args.batch,), generator=g)
    with torch.no_grad():
        diff = (hf.eval()(pixel_values=images).logits - ours.eval()(images)).abs().max().item()
    hf.train(), ours.train()
    n = sum(q.numel() for q in ours.parameters())
    print(f"{args.preset}: {n:,} parameters, {cfg.image_size}² × {cfg.n_channels}, {cfg.n_patches} patches, batch "
          f"{args.batch}, {args.dtype}, {torch.get_num_threads()} threads; logits agree to {diff:.1e}")
    times = time_pair(steps(hf, ours, images, labels, args.kernels.split(","), args.dtype == "bf16"), args.rounds, args.warmup)
    row = {name: {"median_s": statistics.median(ts), "p25_s": quantile(ts, 0.25), "p75_s": quantile(ts, 0.75),
                  "images_per_s": args.batch / statistics.median(ts), "times_s": ts} for name, ts in times.items()}
    print("\n| model | s/step median (p25–p75) | images/s | ÷ HF |\n| --- | ---: | ---: | ---: |")
    for name, r in row.items():
        r["ratio"] = r["images_per_s"] / row["hf"]["images_per_s"]
        r["verdict"] = ("tie (within 5 %)" if abs(r["ratio"] - 1) <= 0.05 else
                        "lmlab faster" if r["ratio"] > 1 else "HF faster")
        print(f"| {name} | {r['median_s']:.3f} ({r['p25_s']:.3f}–{r['p75_s']:.3f}) | {r['images_per_s']:.2f} | "
              f"{r['ratio']:.2f}× {r['verdict'] if name != 'hf' else ''} |")
    result = {"preset": args.preset, "batch": args.batch, "dtype": args.dtype, "cpu": cpu_info().label(), "parameters": n, "image_size": cfg.image_size,
              "threads": torch.get_num_threads(), "logit_diff": diff, "rows": row}
    out = args.json or (None if args.quick else DEFAULT_JSON)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"results: {out}")
    return result


if __name__ == "__main__":
    main()

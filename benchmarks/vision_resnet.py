"""Forward + backward throughput (images/s) of lmlab's ResNet-18 vs its Hugging Face twin, in one process.

    python benchmarks/vision_resnet.py                      # ResNet-18, 64×64 RGB, batch 32, fp32, 10 rounds
    python benchmarks/vision_resnet.py --rounds 20 --threads 2

Both models hold the same weights (lmlab's, converted with lmlab.io.hf_resnet) and run in train mode on the
same batch: forward, cross-entropy, backward, zero_grad. Steps are interleaved, the order alternating each
round, so a busy machine slows both alike; the table gives the median (and fastest) ms per step, images/s,
and lmlab/HF ratios of medians. Both call the same torch convolution and BatchNorm kernels, so a ratio within
5 % of 1 is a tie. (The ViT twin is benchmarks/vision.py.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import ResNetConfig, ResNetForImageClassification

from lmlab.io.hf_resnet import to_hf_state_dict
from lmlab.models.cnn import CNN, preset
from lmlab.ops.cpu import cpu_info


def step(forward, model, x, y, bf16: bool = False) -> float:
    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = F.cross_entropy(forward(x), y)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32",
                   help="bf16: forward and loss of both under torch.autocast (for CPUs with native bf16)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = preset("resnet18")
    ours = CNN(cfg).train()
    hf = ResNetForImageClassification(ResNetConfig(depths=list(cfg.layers), hidden_sizes=list(cfg.channels),
                                                   layer_type="basic", num_labels=cfg.n_classes)).train()
    hf.load_state_dict(to_hf_state_dict(ours))
    x = torch.randn(args.batch, 3, args.size, args.size)
    y = torch.randint(0, cfg.n_classes, (args.batch,))
    with torch.no_grad():
        assert torch.allclose(ours.eval()(x), hf.eval()(x).logits, atol=1e-4)  # the same function
    ours.train(), hf.train()
    runners = {"lmlab": (ours, ours), "hf": (lambda t: hf(t).logits, hf)}
    times: dict[str, list[float]] = {k: [] for k in runners}
    for r in range(args.warmup + args.rounds):
        order = list(runners) if r % 2 == 0 else list(reversed(runners))
        for name in order:
            fwd, model = runners[name]
            dt = step(fwd, model, x, y, args.dtype == "bf16")
            if r >= args.warmup:
                times[name].append(dt)
    print(f"ResNet-18 ({sum(q.numel() for q in ours.parameters()):,} parameters), {args.size}×{args.size} RGB, "
          f"batch {args.batch}, {args.dtype}, forward + backward, {args.rounds} interleaved rounds, "
          f"{torch.get_num_threads()} threads")
    print(f"{'':8}{'median ms':>11}{'fastest ms':>12}{'images/s':>10}")
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, v in times.items():
        print(f"{name:8}{med[name] * 1e3:11.1f}{min(v) * 1e3:12.1f}{args.batch / med[name]:10.1f}")
    ratio = med["hf"] / med["lmlab"]
    paired = statistics.median(h / o for h, o in zip(times["hf"], times["lmlab"]))
    verdict = "tie (within 5 %)" if abs(ratio - 1) <= 0.05 else ("lmlab faster" if ratio > 1 else "lmlab slower")
    print(f"lmlab / HF throughput: {ratio:.3f} (of medians), {paired:.3f} (median of paired rounds), "
          f"{min(times['hf']) / min(times['lmlab']):.3f} (fastest) -> {verdict}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"size": args.size, "batch": args.batch, "dtype": args.dtype,
                                         "cpu": cpu_info().label(), "times_s": times, "ratio_of_medians": ratio,
                                         "ratio_paired": paired, "verdict": verdict}, indent=2) + "\n")


if __name__ == "__main__":
    main()

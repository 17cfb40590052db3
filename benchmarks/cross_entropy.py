"""The language-model loss alone: lmlab's cross-entropy against log_softmax + gather and F.cross_entropy.

    python benchmarks/cross_entropy.py --rows 2048 --vocab 50257 --rounds 15 --json benchmarks/results/cross_entropy_xeon.json

One step = fresh logits (N, V) (a copy, as the LM head's product makes a new tensor each step), the loss
(mean over rows), its backward. Three sides, interleaved in one process, the order rotating each round:
- lmlab: `lmlab.ops.losses.cross_entropy`, −log p_y from the logsumexp with the gradient written out;
- log_softmax: the textbook formula lmlab used before (log_softmax, gather, mean), autograd's backward;
- torch: `F.cross_entropy`.
Reported: median and fastest ms, the ratio of medians to log_softmax, and the minor page faults per step
(each new (N, V) tensor of GPT-2's vocabulary is 0.4 GB, so on a VM the faults are much of the cost).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from lmlab.ops.cpu import cpu_info
from lmlab.ops.losses import cross_entropy


def textbook(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -logp.gather(-1, target.unsqueeze(-1)).mean()


SIDES = {"lmlab": cross_entropy, "log_softmax": textbook, "torch": F.cross_entropy}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=2048, help="N = batch × tokens (default 2048: 8 × 256)")
    p.add_argument("--vocab", type=int, default=50257, help="V (default GPT-2's 50,257)")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    print(f"CPU {cpu_info().label()}; torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)

    g = torch.Generator().manual_seed(0)
    base = torch.randn(args.rows, args.vocab, generator=g)
    target = torch.randint(0, args.vocab, (args.rows,), generator=g)
    times: dict[str, list[float]] = {name: [] for name in SIDES}
    faults: dict[str, list[int]] = {name: [] for name in SIDES}

    def step(name: str) -> None:
        logits = base.add(0.0).requires_grad_()          # a new tensor, as the LM head makes one
        SIDES[name](logits, target).backward()

    for name in SIDES:                                    # warm up
        step(name)
    for r in range(args.rounds):
        order = list(SIDES)
        for name in order[r % 3:] + order[:r % 3]:
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            step(name)
            times[name].append((time.perf_counter() - t0) * 1e3)
            faults[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    ref = statistics.median(times["log_softmax"])
    result = {"cpu": cpu_info().as_dict(), "args": vars(args), "sides": {}}
    print(f"N {args.rows}, V {args.vocab:,}: fwd + bwd of the loss, {args.rounds} rounds")
    for name, ts in times.items():
        med = statistics.median(ts)
        row = {"median_ms": med, "min_ms": min(ts), "speed_vs_log_softmax": ref / med,
               "minor_faults": statistics.median(faults[name])}
        result["sides"][name] = row
        print(f"  {name:12} median {med:7.1f} ms  fastest {min(ts):7.1f} ms  {ref / med:5.2f}× log_softmax  "
              f"{row['minor_faults']:,.0f} page faults")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())

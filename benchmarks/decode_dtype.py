"""`lmlab generate --dtype auto`: does the measured pick (fp32 or bf16) decode faster than the other?

    python benchmarks/decode_dtype.py                          # gpt2-small and nano shapes, random weights
    python benchmarks/decode_dtype.py --presets gpt2-small --new 64 --reps 5 --json out.json

For each model shape: lmlab.generate.precision.decode_dtype decides in a fresh temporary cache (so it
measures now, as on a user's first `--dtype auto`: a few greedy steps of the model in each dtype), then
the script times longer greedy decoding (a --prompt-token prompt, --new tokens, lmlab's generate_ids with
packed weights, as `lmlab generate` runs) in fp32 and in bf16, interleaved, fastest of --reps, and
reports ms per token, the pick, and the pick's time over the faster one's (1.00: it chose right). Run it
alone on the machine (timing).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time

import torch

from lmlab.generate.decoding import GenerationConfig
from lmlab.generate.precision import DTYPES, choice_name, decode_dtype
from lmlab.generate.text import generate_ids
from lmlab.models.gpt import GPT, preset
from lmlab.ops import autotune
from lmlab.ops.cpu import cpu_info


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", default="gpt2-small,nano")
    p.add_argument("--prompt", type=int, default=32)
    p.add_argument("--new", type=int, default=64)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    os.environ["LMLAB_CACHE_DIR"] = tempfile.mkdtemp(prefix="lmlab-decode-dtype-")
    os.environ["LMLAB_AUTOTUNE"] = "1"
    info = cpu_info()
    print(f"CPU {info.label()}; {torch.get_num_threads()} threads; torch {torch.__version__}; "
          f"{args.prompt}-token prompt, {args.new} new tokens, greedy, fastest of {args.reps}")
    rows = []
    for name in args.presets.split(","):
        torch.manual_seed(0)
        cfg_model = preset(name)
        model = GPT(preset(name, max_seq_len=max(cfg_model.max_seq_len, args.prompt + args.new))).eval()
        t0 = time.perf_counter()
        pick = decode_dtype(model, "auto")
        decide_s = time.perf_counter() - t0
        measured = autotune.decision(choice_name(model))["ms"]
        models = {"fp32": model, "bf16": copy.deepcopy(model).to(DTYPES["bf16"])}
        prompt = [torch.randint(0, model.cfg.vocab_size, (args.prompt,)).tolist()]
        cfg = GenerationConfig(max_new_tokens=args.new, temperature=0.0)
        best = {k: float("inf") for k in models}
        for m in models.values():   # warm-up
            generate_ids(m, prompt, cfg)
        for _ in range(args.reps):
            for k, m in models.items():
                t = time.perf_counter()
                generate_ids(m, prompt, cfg)
                best[k] = min(best[k], time.perf_counter() - t)
        ms = {k: v / args.new * 1e3 for k, v in best.items()}
        row = dict(preset=name, params=sum(q.numel() for q in model.parameters()), pick=pick,
                   decide_s=decide_s, decide_ms=measured, ms_per_token=ms, pick_over_best=ms[pick] / min(ms.values()))
        rows.append(row)
        print(f"{name:<12} pick {pick} (decided in {decide_s:.1f} s: "
              + ", ".join(f"{k} {v:.1f} ms" for k, v in measured.items())
              + f" for 8 + 8 tokens); then {args.new} tokens: fp32 {ms['fp32']:.1f}, bf16 {ms['bf16']:.1f} ms/token; "
              f"pick/best {row['pick_over_best']:.2f}x", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"cpu": info.as_dict(), "threads": torch.get_num_threads(), "torch": torch.__version__,
                       "args": vars(args), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()

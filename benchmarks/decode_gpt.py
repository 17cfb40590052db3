"""Decoding speed: lmlab's KV-cache engine against Hugging Face `generate()`, the bandwidth bound,
cached vs uncached decoding, and MHA vs GQA vs MQA.

    python benchmarks/decode_gpt.py                      # all three parts (about 10 minutes)
    python benchmarks/decode_gpt.py --parts hf --reps 2  # only lmlab vs HF
    python benchmarks/decode_gpt.py --quick              # a short smoke run

Part `hf` (issue goal: ≥ 1.5× HF tokens/s and ≥ 50 % of the bandwidth bound). A GPT-2-small-
shaped model (124M parameters, vocab 50257) with random weights is built in transformers
(GPT2LMHeadModel, sdpa attention) and moved into lmlab with lmlab's importer, so both hold the
same weights; the script checks their first greedy tokens agree. Batch 1, a 32-token prompt, 256
new tokens, greedy, `min_new_tokens` so HF never stops early; fp32 and bf16 (weights cast with
.to(dtype)); the same process and thread count, runs interleaved (HF, lmlab, HF, lmlab, …), the
fastest of `--reps` reported. Time per token = wall time of the whole call (prefill included) /
new tokens.

The bound: decoding one token at batch 1 must read every weight once (the tied embedding once,
as the LM head; the position table not at all: one row), so time/token ≥ bytes of weights /
read bandwidth. The read bandwidth is measured here: the fastest `torch.sum` over a 1 GiB tensor
with the same threads. "% of bound" = bound / measured time per token.

lmlab runs its linear layers from oneDNN-packed weights while decoding on CPU (see
lmlab/nn/packed_linear.py); the table also shows lmlab without packing (plain F.linear).

`--profile [N]`: after timing, N more calls of each side under torch.profiler: per token, the GEMM
share of the self CPU time and the rest by op (benchmarks/_profile.py), printed and written to
--profile-json (per dtype).

Part `cache`: the same model, 512 new tokens from a 32-token prompt, lmlab with the KV cache
against lmlab re-encoding the whole sequence at every step (`use_cache=False`), fp32.

Part `gqa`: KV-cache bytes per token and decode speed for n_kv_heads = 12 (MHA), 4 (GQA) and 1
(MQA) at the GPT-2-small shape, batch 8, a 512-token prompt, 64 new tokens, bf16: the setting
where reading the cache is a visible part of each step.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from lmlab.generate.decoding import GenerationConfig, LMStepper, decode
from lmlab.generate.text import generate_ids, inference
from lmlab.io.hf_gpt2 import load_hf_gpt2
from lmlab.models.gpt import GPT
from lmlab.models.gpt.presets import preset
from lmlab.nn.kv_cache import kv_bytes_per_token
from lmlab.ops.cpu import cpu_info

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def read_bandwidth(threads: int, gib: float = 1.0, reps: int = 5) -> float:
    """Bytes/s of the fastest full read (torch.sum) of a `gib` GiB fp32 tensor."""
    x = torch.ones(int(gib * 2**30) // 4)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        x.sum()
        best = min(best, time.perf_counter() - t)
    return x.numel() * 4 / best


def lmlab_decode(model, prompt: torch.Tensor, n_new: int, use_cache: bool = True, pack: bool = True) -> list[int]:
    """Greedy decoding through lmlab's public entry point (generate_ids)."""
    cfg = GenerationConfig(max_new_tokens=n_new, temperature=0, use_cache=use_cache)
    return generate_ids(model, prompt.tolist(), cfg, pack_weights=pack)[0]


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def build_pair(seed: int = 0):
    """(HF GPT2LMHeadModel, lmlab GPT) with the same random GPT-2-small weights."""
    import transformers
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, attn_implementation="sdpa")
    hf = transformers.GPT2LMHeadModel(cfg).eval()
    with tempfile.TemporaryDirectory() as d:
        hf.save_pretrained(d)
        ours = load_hf_gpt2(d).eval()
    return hf, ours


def profile_pair(args, name: str, sides: dict) -> dict:
    """torch.profiler on --profile calls of each side: GEMM share and the rest by op, per token."""
    from _profile import format_profile, markdown_table, profile_ops
    profiles = {side: profile_ops(lambda i, fn=fn: fn(), args.profile, per=args.new, unit="token")
                for side, fn in sides.items()}
    print(f"{name}: torch.profiler, {args.profile} calls of {args.new} new tokens each")
    for side, prof in profiles.items():
        print(format_profile(f"{name} {side}", prof))
    print(markdown_table(profiles), flush=True)
    return profiles


def part_hf(args, bw: float) -> list[dict]:
    hf, ours = build_pair()
    prompt = torch.randint(0, 50257, (1, args.prompt))
    n_weights = sum(p.numel() for p in ours.parameters()) - ours.pos_emb.weight.numel()
    rows = []
    for name in args.dtypes:
        dtype = DTYPES[name]
        hf, ours = hf.to(dtype), ours.to(dtype)
        run_hf = lambda hf=hf: hf.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                                     max_new_tokens=args.new, min_new_tokens=args.new, pad_token_id=0)
        run_ours = lambda ours=ours: lmlab_decode(ours, prompt, args.new)
        run_plain = lambda ours=ours: lmlab_decode(ours, prompt, args.new, pack=False)
        with torch.no_grad():
            first_hf = run_hf()[0, args.prompt:args.prompt + 8].tolist()
            first_ours = run_ours()[:8]
            times = {"hf": [], "lmlab": [], "lmlab_unpacked": []}
            for _ in range(args.reps):
                times["hf"].append(timed(run_hf)[0])
                times["lmlab"].append(timed(run_ours)[0])
                times["lmlab_unpacked"].append(timed(run_plain)[0])
        bound = n_weights * torch.finfo(dtype).bits // 8 / bw
        hf_ms, ours_ms, plain_ms = (min(times[k]) / args.new * 1e3 for k in ("hf", "lmlab", "lmlab_unpacked"))
        print(f"{name}: lmlab without packed weights (plain F.linear): {plain_ms:.1f} ms/token", flush=True)
        rows.append(dict(dtype=name, hf_ms_per_token=hf_ms, lmlab_ms_per_token=ours_ms,
                         lmlab_unpacked_ms_per_token=plain_ms,
                         speedup=hf_ms / ours_ms, bound_ms_per_token=bound * 1e3,
                         lmlab_pct_of_bound=100 * bound * 1e3 / ours_ms, hf_pct_of_bound=100 * bound * 1e3 / hf_ms,
                         first_tokens_agree=first_hf == first_ours, all_times_s=times))
        if args.profile:
            with torch.no_grad():
                rows[-1]["profile"] = profile_pair(args, name, {"lmlab": run_ours, "hf": run_hf})
        print(f"{name}: HF {hf_ms:.1f} ms/token, lmlab {ours_ms:.1f} ms/token -> {hf_ms / ours_ms:.2f}x; "
              f"bound {bound * 1e3:.1f} ms/token: lmlab at {100 * bound * 1e3 / ours_ms:.0f}% "
              f"(HF {100 * bound * 1e3 / hf_ms:.0f}%); first tokens agree: {first_hf == first_ours}", flush=True)
    return rows


def part_cache(args) -> dict:
    _, model = build_pair()
    prompt = torch.randint(0, 50257, (1, args.prompt))
    with torch.no_grad():
        t_cached, a = timed(lambda: lmlab_decode(model, prompt, args.cache_new, True))
        t_full, b = timed(lambda: lmlab_decode(model, prompt, args.cache_new, False))
    row = dict(new_tokens=args.cache_new, cached_s=t_cached, uncached_s=t_full, speedup=t_full / t_cached,
               same_tokens=a == b)
    print(f"{args.cache_new} tokens: cached {t_cached:.1f} s, uncached {t_full:.1f} s -> "
          f"{t_full / t_cached:.1f}x; same tokens: {a == b}", flush=True)
    return row


def part_gqa(args) -> list[dict]:
    rows = []
    batch, n_prompt, n_new = args.gqa_batch, args.gqa_prompt, args.gqa_new
    prompt = torch.randint(0, 50257, (batch, n_prompt))
    for kv in (12, 4, 1):
        torch.manual_seed(0)
        cfg = preset("gpt2-small", n_kv_heads=kv)
        model = GPT(cfg).eval().to(torch.bfloat16)
        per_tok = kv_bytes_per_token(cfg.n_layers, cfg.kv_heads, cfg.head_dim, 2)
        cfg_gen = GenerationConfig(max_new_tokens=n_new, temperature=0)
        with inference(model):
            best = float("inf")
            for _ in range(args.reps):
                stepper = LMStepper(model, prompt, None, True, n_new)
                steps = decode(stepper, cfg_gen)
                next(steps)                       # prefill + first token, not timed
                t, n = timed(lambda steps=steps: sum(1 for _ in steps))
                best = min(best, t / n)
        ctx = n_prompt + n_new
        rows.append(dict(n_kv_heads=kv, cache_bytes_per_token=per_tok, cache_bytes_total=per_tok * ctx * batch,
                         ms_per_step=best * 1e3, tokens_per_s=batch / best))
        print(f"n_kv_heads {kv:>2}: {per_tok / 1024:.1f} KiB/token, cache {per_tok * ctx * batch / 2**20:.0f} MiB "
              f"for {batch}x{ctx} tokens; {best * 1e3:.1f} ms/step = {batch / best:.0f} tokens/s", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default="hf,cache,gqa", help="comma-separated: hf, cache, gqa (default: all)")
    p.add_argument("--dtypes", default="fp32,bf16", help="for part hf (default: fp32,bf16)")
    p.add_argument("--prompt", type=int, default=32, help="prompt tokens (default: 32)")
    p.add_argument("--new", type=int, default=256, help="new tokens in part hf (default: 256)")
    p.add_argument("--cache-new", type=int, default=512, help="new tokens in part cache (default: 512)")
    p.add_argument("--gqa-batch", type=int, default=8)
    p.add_argument("--gqa-prompt", type=int, default=512)
    p.add_argument("--gqa-new", type=int, default=64)
    p.add_argument("--reps", type=int, default=3, help="timed runs of each; the fastest counts (default: 3)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--profile", type=int, nargs="?", const=1, default=0, metavar="N",
                   help="part hf: profile N more calls (default 1) of each side, per token, GEMM share and the rest")
    p.add_argument("--profile-json", default="benchmarks/results/decode_gpt_profile.json",
                   help="where --profile writes its tables (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, to check the script runs")
    p.add_argument("--json", default="benchmarks/results/decode_gpt.json", help="where to write the results")
    args = p.parse_args()
    args.dtypes = args.dtypes.split(",")
    if args.quick:
        args.new, args.cache_new, args.gqa_prompt, args.gqa_new, args.gqa_batch, args.reps = 8, 16, 32, 4, 2, 1
    torch.set_num_threads(args.threads)
    parts = args.parts.split(",")
    bw = read_bandwidth(args.threads)
    print(f"CPU {cpu_info().label()}; measured read bandwidth {bw / 1e9:.1f} GB/s", flush=True)
    out = {"threads": args.threads, "read_bandwidth_GBps": bw / 1e9, "torch": torch.__version__,
           "cpu": cpu_info().as_dict()}
    if "hf" in parts:
        out["hf"] = part_hf(args, bw)
        if args.profile:
            Path(args.profile_json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.profile_json).write_text(json.dumps(
                {**{k: out[k] for k in ("threads", "torch", "cpu")}, "new_tokens": args.new, "prompt": args.prompt,
                 "profiles": {r["dtype"]: r["profile"] for r in out["hf"]},
                 "ratio_vs_hf": {r["dtype"]: r["speedup"] for r in out["hf"]}}, indent=1) + "\n")
            print(f"profiles in {args.profile_json}")
    if "cache" in parts:
        out["cache"] = part_cache(args)
    if "gqa" in parts:
        out["gqa"] = part_gqa(args)
    if not args.quick:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"results in {args.json}")


if __name__ == "__main__":
    main()

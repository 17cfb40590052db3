"""One training step at Tiny Shakespeare's shape: lmlab's Trainer against nanoGPT's loop (issue 20).

    python benchmarks/tiny_step.py --nanogpt /tmp/nanogpt-tiny --rounds 30 --steps 10 --profile 20

nanoGPT (github.com/karpathy/nanoGPT, a clone with `data/shakespeare_char/prepare.py` run) is imported
from --nanogpt: its model.py as it is, and the body of its train.py loop written out here as train.py runs
it on a CPU (no autocast, a disabled GradScaler, its get_batch from the memmapped train.bin, its cosine
learning rate set every step, clip 1.0, AdamW from its configure_optimizers, zero_grad(set_to_none)).
lmlab: a real `Trainer.train_step()` (schedule, batch, forward, loss, backward, clip, optimizer, logging
numbers) on the bundled `--config` recipe's model and training settings (its `dtype auto`: bf16 where this
CPU measures it faster, `--set train.dtype=fp32` for fp32 against fp32), with lmlab's own data source;
vocabulary 65 on both sides (the char tokenizer of the corpus).

Both run in ONE process, interleaved: each round runs `--steps` timed steps of each side (the order
rotates; with --bare, lmlab's model in a bare loop runs as a third side: the Trainer's own cost). Reported: the median step (and p25-p75), the ratio of medians (nanoGPT ÷ lmlab: above 1 means
lmlab takes more steps per second). `--profile N` then profiles N steps of each (benchmarks/_profile.py:
self CPU time by op, and the wall time left to Python between ops).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _profile import format_profile, markdown_table, profile_ops  # noqa: E402

from lmlab.config import replace  # noqa: E402
from lmlab.data.corpora import load_text  # noqa: E402
from lmlab.data.lm import causal_lm_batches  # noqa: E402
from lmlab.data.lm_config import LMDataConfig  # noqa: E402
from lmlab.data.tokenizers import train_tokenizer  # noqa: E402
from lmlab.models.gpt import GPT, GPTConfig  # noqa: E402
from lmlab.ops.cpu import cpu_info  # noqa: E402
from lmlab.recipes.configs import bundled_config  # noqa: E402
from lmlab.train.config import TrainConfig  # noqa: E402
from lmlab.train.kernels import current  # noqa: E402
from lmlab.train.objectives import causal_lm  # noqa: E402
from lmlab.train.trainer import Trainer  # noqa: E402


def lmlab_side(config: str, overrides: dict, seed: int):
    """A Trainer on the recipe's settings; returns step(i) and the model's parameter count."""
    raw = json.loads(bundled_config(config).read_text())
    text = load_text("tinyshakespeare")
    tok = train_tokenizer("char", text)
    model_cfg = replace(GPTConfig(), {**raw.get("model", {}), "vocab_size": tok.vocab_size,
                                      **overrides.get("model", {})})
    train_cfg = replace(TrainConfig(), {**raw.get("train", {}), "seed": seed, **overrides.get("train", {})})
    data_cfg = replace(LMDataConfig(), raw.get("data", {}))
    train_data, _, _ = causal_lm_batches(text, tok, model_cfg, data_cfg, train_cfg.batch_size, seed, 1)
    torch.manual_seed(seed)
    trainer = Trainer(GPT(model_cfg), causal_lm, train_data, train_cfg, quiet=True)
    trainer.net.train()

    def step(i: int) -> None:
        trainer.train_step()

    # the same model and optimizer in a bare loop (no Trainer): what the Trainer's own work costs
    bare = GPT(model_cfg).train()
    opt = torch.optim.AdamW(bare.parameters(), lr=train_cfg.lr, fused=True)

    def bare_step(i: int) -> None:
        batch = train_data.next()
        logits = bare(batch["input_ids"])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(bare.parameters(), train_cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step, bare_step, trainer.model.num_parameters(), model_cfg, lambda: current(trainer.kernels)


def nanogpt_side(root: Path, model_cfg: GPTConfig, seed: int):
    """nanoGPT's model and the body of its train.py loop on a CPU, at lmlab's recipe's shape."""
    sys.path.insert(0, str(root))
    import model as nano  # nanoGPT's model.py

    data_dir = root / "data" / "shakespeare_char"
    B, T = 12, model_cfg.max_seq_len
    lr, min_lr, warmup, decay_iters = 1e-3, 1e-4, 100, 2000   # config/train_shakespeare_char.py (+ the CLI flags)

    def get_lr(it: int) -> float:  # its schedule: linear warm-up, cosine to min_lr
        if it < warmup:
            return lr * (it + 1) / (warmup + 1)
        ratio = min(1.0, (it - warmup) / (decay_iters - warmup))
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)

    def get_batch():  # as train.py: a fresh memmap per batch, a stack of int64 windows
        data = np.memmap(data_dir / "train.bin", dtype=np.uint16, mode="r")
        ix = torch.randint(len(data) - T, (B,))
        x = torch.stack([torch.from_numpy(data[i:i + T].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(data[i + 1:i + 1 + T].astype(np.int64)) for i in ix])
        return x, y

    torch.manual_seed(seed)
    cfg = nano.GPTConfig(block_size=T, vocab_size=model_cfg.vocab_size, n_layer=model_cfg.n_layers,
                         n_head=model_cfg.n_heads, n_embd=model_cfg.d_model, dropout=0.0, bias=False)
    model = nano.GPT(cfg)
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        opt = model.configure_optimizers(0.1, lr, (0.9, 0.99), "cpu")
    scaler = torch.amp.GradScaler("cuda", enabled=False)  # train.py's, which disables itself without CUDA
    ctx = nullcontext()
    model.train()
    state = {"batch": get_batch()}

    def step(it: int) -> None:
        for group in opt.param_groups:
            group["lr"] = get_lr(it)
        X, Y = state["batch"]
        with ctx:
            _, loss = model(X, Y)
        state["batch"] = get_batch()    # train.py fetches the next batch while the device works
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
    return step, sum(p.numel() for p in model.parameters())


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nanogpt", default="/tmp/nanogpt-tiny", help="a nanoGPT clone with shakespeare_char prepared")
    p.add_argument("--config", default="shakespeare-char", help="lmlab's bundled recipe (or a JSON file)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a recipe key on lmlab's side, e.g. model.bias=false (repeatable)")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--steps", type=int, default=10, help="timed steps per side per round")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps per side first")
    p.add_argument("--profile", type=int, default=0, metavar="N", help="then profile N steps of each side")
    p.add_argument("--bare", action="store_true",
                   help="a third side: lmlab's model in a bare loop (F.cross_entropy, torch's clip, fused AdamW)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    overrides: dict[str, dict] = {}
    for item in args.set:
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        overrides.setdefault(section, {})[name] = value

    print(f"CPU {cpu_info().label()}; torch {torch.__version__}, {os.cpu_count()} cores, "
          f"{torch.get_num_threads()} threads")
    lm_step, bare_step, lm_params, model_cfg, lm_kernels = lmlab_side(args.config, overrides, args.seed)
    nano_step, nano_params = nanogpt_side(Path(args.nanogpt), model_cfg, args.seed)
    sides = {"lmlab": lm_step, "nanoGPT": nano_step, **({"lmlab-bare": bare_step} if args.bare else {})}
    print(f"lmlab {lm_params:,} parameters; nanoGPT {nano_params:,}; shape d {model_cfg.d_model}, "
          f"{model_cfg.n_layers} layers, T {model_cfg.max_seq_len}; lmlab trains in {lm_kernels()['dtype']} "
          "(nanoGPT's CPU recipe: fp32)")
    it = {name: 0 for name in sides}

    def run(name: str, timed: list | None) -> None:
        t0 = time.perf_counter()
        sides[name](it[name])
        if timed is not None:
            timed.append((time.perf_counter() - t0) * 1e3)
        it[name] += 1

    for name in sides:
        for _ in range(args.warmup):
            run(name, None)
    times: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(args.rounds):
        order = list(sides)
        for name in order[r % len(order):] + order[:r % len(order)]:
            for _ in range(args.steps):
                run(name, times[name])
    result = {"cpu": cpu_info().as_dict(), "args": vars(args), "sides": {}}
    for name, ts in times.items():
        q = statistics.quantiles(ts, n=4)
        result["sides"][name] = {"median_ms": statistics.median(ts), "p25_ms": q[0], "p75_ms": q[2],
                                 "min_ms": min(ts), "steps_per_s": 1e3 / statistics.median(ts)}
        print(f"{name:8} median {statistics.median(ts):6.2f} ms/step (p25-p75 {q[0]:.2f}-{q[2]:.2f}, "
              f"min {min(ts):.2f}), {1e3 / statistics.median(ts):.1f} steps/s")
    ratio = result["sides"]["nanoGPT"]["median_ms"] / result["sides"]["lmlab"]["median_ms"]
    result["lmlab_steps_per_s_over_nanogpt"] = ratio
    result["lmlab_kernels"] = lm_kernels()   # the dtype, attention backend and linear kernels it trained with
    print(f"lmlab's steps/s ÷ nanoGPT's: {ratio:.3f}×")
    if args.profile:
        profiles = {}
        for name in sides:
            prof = profile_ops(lambda i, n=name: run(n, None), args.profile, top=12)
            prof["python_ms"] = prof["wall_ms"] - prof["total_ms"]
            profiles[name] = prof
            print(format_profile(name, prof))
            print(f"  wall minus op self time (Python, dispatch, profiler): {prof['python_ms']:.2f} ms")
        print(markdown_table(profiles))
        result["profiles"] = profiles
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

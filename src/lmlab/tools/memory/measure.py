"""The peak memory of real training steps, to check the bill (bill.py) against.

`measure_training_peak` measures the bill's peak on real training steps: the largest total size of
live tensors, counted exactly by a TorchDispatchMode that sees every tensor an operator creates and
a weakref finalizer that sees it freed. That is the quantity torch.cuda.max_memory_allocated
reports on a GPU; a process's resident memory is larger and noisier (the allocator's caches, the
Python runtime, libraries). benchmarks/memory_bill.py compares prediction and measurement: on
CPU the two agree within 3 % for every config it runs (most to the byte, since every saved tensor
is accounted for). Limits: dropout is taken as 0 (lmlab's presets; p > 0 adds a 1-byte mask per
dropped element); the pure-PyTorch flash backend's backward makes fp32 copies of q, k, v and dO
that the estimate leaves out (about 10 % under with bf16); the items are read off lmlab on CPU,
and on CUDA sdpa picks its kernel by dtype and shape (fp32 with GQA falls back to the math
kernel, which keeps the T×T probabilities) and autocast keeps LayerNorm in fp32, so the estimate
can be low there; max_memory_allocated also counts cuBLAS's workspaces (about 65 MiB on an H100).
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.checkpoint import checkpoint

from lmlab.train.objectives import causal_lm


class LiveTensorBytes(TorchDispatchMode):
    """Counts the bytes of all live tensor storages: every storage an operator creates is added,
    and removed when its last user lets go of it (a weakref finalizer on the storage). Tensors made
    before the mode started (weights, the batch) are added with `add`. `peak` is the high-water mark,
    what torch.cuda.max_memory_allocated reports on a GPU."""

    def __init__(self):
        super().__init__()
        self.live: dict[int, int] = {}
        self.current = self.peak = 0
        self.op, self.peak_op = "", ""  # the operator running now / when the peak was reached

    def add(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        key = storage._cdata  # the C++ storage, shared by all views of it
        if key in self.live:
            return
        self.live[key] = n = storage.nbytes()
        self.current += n
        if self.current > self.peak:
            self.peak, self.peak_op = self.current, self.op
        weakref.finalize(storage, self._free, key)

    def _free(self, key: int) -> None:
        self.current -= self.live.pop(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.op = str(func)
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.add(t)
        return out


def make_optimizer(name: str, params: list, lr: float = 1e-4) -> torch.optim.Optimizer:
    """torch.optim optimizers for `measure_training_peak`: fused (no temporaries) where torch has
    a fused kernel, else the per-parameter loop (temporaries of one parameter at a time)."""
    cpu = all(p.device.type == "cpu" for p in params)
    ctor = {
        "sgd": lambda: torch.optim.SGD(params, lr=lr, fused=True),
        "momentum": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9, fused=True),
        "nesterov": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, fused=True),
        "adagrad": lambda: torch.optim.Adagrad(params, lr=lr, fused=cpu, foreach=False),  # fused: CPU only
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=lr, foreach=False),
        "rmsprop-momentum": lambda: torch.optim.RMSprop(params, lr=lr, momentum=0.9, foreach=False),
        "adam": lambda: torch.optim.Adam(params, lr=lr, fused=True),
        "adamw": lambda: torch.optim.AdamW(params, lr=lr, fused=True),
    }
    if name not in ctor:
        raise ValueError(f"no torch optimizer for '{name}' ({', '.join(ctor)})")
    return ctor[name]()


def checkpoint_blocks(model) -> None:
    """Activation checkpointing for a GPT: each block keeps its input and recomputes in backward."""
    for block in model.blocks:
        block.forward = functools.partial(checkpoint, block.forward, use_reentrant=False)


def measure_training_peak(model, batch_fn: Callable[[], dict], *, optimizer: str = "adamw",
                          autocast_dtype: torch.dtype | None = None, steps: int = 3) -> dict:
    """Peak live tensor bytes over `steps` training steps of `model`, taken as lmlab's Trainer takes
    them: causal-LM loss (under autocast if `autocast_dtype`), backward, gradient clipping, optimizer
    step, zero_grad(set_to_none=True). Only parameters with requires_grad are trained. The first step
    (which creates the optimizer states) is reported apart; `peak` is the largest of the later ones.

    Returns {"peak", "first_step_peak", "weights"} in bytes, "peak_op" (the operator that reached
    the peak), and on CUDA also "cuda_peak":
    torch.cuda.max_memory_allocated over the later steps, the allocator's own count."""
    params = [p for p in model.parameters() if p.requires_grad]
    device = next(model.parameters()).device
    meter = LiveTensorBytes()
    for t in [*model.parameters(), *model.buffers()]:
        meter.add(t)
    weights = meter.current
    amp = (lambda: torch.autocast(device.type, dtype=autocast_dtype)) if autocast_dtype else contextlib.nullcontext
    out = {}
    model.train()
    with meter:
        opt = make_optimizer(optimizer, params)  # inside the mode: AdaGrad makes its state here
        for step in range(steps):
            batch = {k: v.to(device) for k, v in batch_fn().items()}
            with amp():
                loss = causal_lm(model, batch)["loss"]
            loss.backward()
            del loss, batch
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if step == 0:
                out["first_step_peak"], meter.peak = meter.peak, meter.current
                if device.type == "cuda":
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats(device)
    out.update(peak=meter.peak, peak_op=meter.peak_op, weights=weights)
    if device.type == "cuda":
        torch.cuda.synchronize()
        out["cuda_peak"] = torch.cuda.max_memory_allocated(device)
    return out


def random_batches(vocab_size: int, batch: int, seq_len: int, seed: int = 0) -> Callable[[], dict]:
    """A batch_fn for measure_training_peak: random next-token batches, input_ids and labels (B, T) int64."""
    gen = torch.Generator().manual_seed(seed)
    def make() -> dict:
        ids = torch.randint(0, vocab_size, (batch, seq_len + 1), generator=gen)
        return {"input_ids": ids[:, :-1].contiguous(), "labels": ids[:, 1:].contiguous()}
    return make

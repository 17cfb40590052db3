"""The Trainer: one loop for every model and objective.

It gets a model, an objective `(model, batch) -> {"loss": …}`, a resumable batch source and a
TrainConfig, and does the rest: an optimizer by name (torch's fused AdamW by default, for speed;
lmlab's own AdamW, Adam, SGD, … compute the same steps; weight decay on matrices only), a learning-rate schedule by name (linear warm-up + cosine by default), gradient
accumulation, global-norm clipping, autocast (bf16; fp16 + GradScaler on CUDA),
DDP under torchrun, periodic evaluation, NaN/inf detection, atomic checkpoints and exact resume.
Ctrl-C and SIGTERM (what schedulers send before they kill) are honoured at the end of the current step:
a checkpoint is saved, then training stops; a second Ctrl-C stops at once, keeping the last checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm.auto import tqdm

from lmlab.errors import LmlabError
from lmlab.io import checkpoint
from lmlab.io.atomic import write_error
from lmlab.ops import autotune
from lmlab.ops.linear import set_linear_kernel
from lmlab.optim.clipping import clip_grad_norm_
from lmlab.optim.param_groups import decay_groups
from lmlab.optim.registry import build_optimizer
from lmlab.optim.schedules import schedule_lr
from lmlab.train import distributed as D
from lmlab.train import kernels as K
from lmlab.train.config import TrainConfig
from lmlab.train.metrics import plot_loss, read_metrics

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise LmlabError(f"device '{name}' asked for, but no CUDA device is available; use --device cpu")
    return torch.device(name)


class Trainer:
    def __init__(self, model: nn.Module, objective: Callable, train_data, cfg: TrainConfig,
                 run_dir: str | Path | None = None, eval_data: list | None = None,
                 on_eval: Callable[[int, nn.Module], dict | None] | None = None,
                 on_step_end: Callable[[int], None] | None = None,
                 dist: D.DistInfo | None = None, quiet: bool = False, eval_objective: Callable | None = None):
        self.cfg, self.objective, self.train_data, self.eval_data = cfg, objective, train_data, eval_data
        self.eval_objective = eval_objective or objective  # e.g. plain cross-entropy when training smooths it
        self.on_eval, self.on_step_end = on_eval, on_step_end
        self.run_dir = Path(run_dir) if run_dir else None
        self.device = resolve_device(cfg.device)
        self.dist = dist or D.DistInfo()
        self.quiet = quiet or not self.dist.is_main
        if cfg.dtype == "fp16" and self.device.type != "cuda":
            raise LmlabError("fp16 training needs a CUDA device (loss scaling); on CPU use --dtype bf16")
        self.model = model.to(self.device)
        self.optimizer = build_optimizer(cfg.optimizer, decay_groups(self.model, cfg.weight_decay), lr=cfg.lr,
                                         betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, momentum=cfg.momentum,
                                         weight_decay=cfg.weight_decay)
        self.scaler = torch.amp.GradScaler("cuda") if cfg.dtype == "fp16" else None
        self.kernels = K.agree(K.resolve(cfg.dtype, self.device, width=K.model_width(model)),
                               self.dist)  # resume() replays the run's own
        warning = K.bf16_warning(self.kernels[K.DTYPE], self.device)
        if warning and self.dist.is_main:
            print(f"warning: {warning}", file=sys.stderr, flush=True)
        net = torch.compile(self.model) if cfg.compile else self.model
        self.net = DDP(net, device_ids=[self.device.index] if self.device.type == "cuda" else None) \
            if self.dist.enabled else net
        self.step, self.tokens, self.elapsed = 0, 0, 0.0
        self.saved_at: int | None = None   # the step of the last complete checkpoint
        self.stop_signal: str | None = None
        torch.manual_seed(cfg.seed + self.dist.rank)

    # ---- pieces of a step -------------------------------------------------------------
    def autocast(self):
        dtype = DTYPES[self.kernels[K.DTYPE]]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _to_device(self, batch: dict) -> dict:
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def lr_at(self, step: int) -> float:
        """The schedule's rate over max_steps; with a time budget the decay also tracks the clock, so
        the rate reaches its floor when the budget runs out even if that comes before max_steps.
        inverse_sqrt has no end point to reach (it decays with the step count itself), so it keeps the steps."""
        c = self.cfg
        if c.time_budget and step >= c.warmup_steps and c.schedule != "inverse_sqrt":
            step = max(step, int(self.elapsed / c.time_budget * c.max_steps))
        return schedule_lr(c.schedule, step, lr=c.lr, warmup=c.warmup_steps, total=c.max_steps, min_lr=c.min_lr,
                           step_size=c.step_size or max(1, c.max_steps // 3), gamma=c.gamma)

    def train_step(self) -> dict[str, float]:
        """One optimizer step over `grad_accum` micro-batches; returns the logged numbers."""
        c = self.cfg
        lr = self.lr_at(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        total = torch.zeros((), device=self.device)
        n_tokens = 0
        for micro in range(c.grad_accum):
            batch = self._to_device(self.train_data.next())
            n_tokens += (batch["input_ids"] if "input_ids" in batch else batch["labels"]).numel()  # images: count
            # under DDP, all-reduce gradients only on the last micro-batch
            sync = micro == c.grad_accum - 1 or not self.dist.enabled
            with (contextlib.nullcontext() if sync else self.net.no_sync()), self.autocast():
                loss = self.objective(self.net, batch)["loss"] / c.grad_accum
            (self.scaler.scale(loss) if self.scaler else loss).backward()
            total += loss.detach()
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        max_norm = c.grad_clip if c.grad_clip > 0 else float("inf")
        grad_norm = clip_grad_norm_(self.model.parameters(), max_norm)
        loss_value = D.all_mean(total, self.dist).item()
        if not math.isfinite(loss_value):
            kept = (f"the step-{self.saved_at} checkpoint is untouched" if self.saved_at is not None else
                    "no checkpoint was saved")
            raise LmlabError(f"training diverged: loss is {loss_value} at step {self.step} "
                             f"(grad norm {grad_norm.item():.3g}); lower --lr, keep --grad_clip on, or "
                             f"use --dtype fp32; {kept}")
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.tokens += n_tokens * self.dist.world_size
        self.step += 1
        return {"loss": loss_value, "lr": lr, "grad_norm": grad_norm.item()}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        if not self.eval_data:
            return {}
        self.net.eval()
        sums: dict[str, torch.Tensor] = {}
        for batch in self.eval_data:  # every number the objective returns is averaged: val_loss, val_mlm_acc, …
            with self.autocast():
                out = self.eval_objective(self.model, self._to_device(batch))
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + v.detach().float()
        self.net.train()
        means = {f"val_{k}": D.all_mean(v / len(self.eval_data), self.dist).item() for k, v in sums.items()}
        # an objective's "*_nll" parts (mean negative log-likelihood per token) are reported as perplexities too
        ppls = {k.removesuffix("_nll") + "_ppl": math.exp(min(v, 50.0)) for k, v in means.items() if k.endswith("_nll")}
        return {**means, "val_ppl": math.exp(min(means["val_loss"], 50.0)), **ppls}

    # ---- files ---------------------------------------------------------------------------
    def _log(self, row: dict) -> None:
        if self.run_dir and self.dist.is_main:
            path = self.run_dir / "metrics.jsonl"
            try:
                with open(path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
            except OSError as e:
                raise (write_error(e, path) or e) from None

    def save_checkpoint(self) -> None:
        if not (self.run_dir and self.dist.is_main):
            return
        state = {
            "step": self.step, "tokens": self.tokens, "elapsed": self.elapsed,
            "optimizer": self.optimizer.state_dict(),
            "data": self.train_data.state_dict(),
            "rng": {"torch": torch.get_rng_state(),
                    **({"cuda": torch.cuda.get_rng_state(self.device)} if self.device.type == "cuda" else {})},
            **({"scaler": self.scaler.state_dict()} if self.scaler else {}),
            "kernels": K.current(self.kernels),
        }
        checkpoint.save_checkpoint(self.run_dir, self.model, self.step, state)
        checkpoint.record_in_config(self.run_dir, "kernels", state["kernels"])
        self.saved_at = self.step
        if (self.run_dir / "metrics.jsonl").exists():
            plot_loss(self.run_dir / "metrics.jsonl", self.run_dir / "loss.png", title=self.run_dir.name)

    def resume(self) -> None:
        """Continue from the run directory's checkpoint: weights, optimizer, step, RNG, data order."""
        assert self.run_dir is not None
        if self.dist.is_main:
            checkpoint.recover(self.run_dir)  # after a crash mid-save: the last complete checkpoint, whole
        D.barrier(self.dist)
        state = checkpoint.load_train_state(self.run_dir)
        saved_step = checkpoint.load_weights(self.run_dir, self.model)
        if saved_step != state["step"]:
            raise LmlabError(f"{self.run_dir}: model.safetensors is from step {saved_step} but train_state.pt "
                             f"from step {state['step']} (an interrupted save?); cannot resume safely")
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as e:
            raise LmlabError(f"{self.run_dir}: optimizer state does not match the model ({e})") from None
        self.train_data.load_state_dict(state["data"])
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        if self.scaler and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.tokens, self.elapsed = state["step"], state["tokens"], state["elapsed"]
        self.saved_at = self.step
        # the kernels it trained with, not today's cache: the same numbers step for step
        self.kernels = K.agree(K.resolve(self.cfg.dtype, self.device, state.get("kernels", K.LEGACY),
                                         K.model_width(self.model)), self.dist)
        # drop metrics logged after the checkpoint: they will be produced again
        if self.dist.is_main and (self.run_dir / "metrics.jsonl").exists():
            kept = [r for r in read_metrics(self.run_dir / "metrics.jsonl") if r["step"] <= self.step]
            (self.run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))

    # ---- stopping on a signal ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _signals(self):
        """While training: SIGINT (Ctrl-C) and SIGTERM ask for a stop at the end of the current step; a second
        SIGINT raises KeyboardInterrupt at once. Outside the main thread signals cannot be caught: no-op."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def ask(signum, frame):
            if self.stop_signal == "SIGINT" and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.stop_signal = signal.Signals(signum).name
            if not self.quiet:
                tqdm.write(f"{self.stop_signal}: stopping after step {self.step + 1} with a checkpoint "
                           "(Ctrl-C again to stop now, keeping the last checkpoint)")
        previous = {s: signal.signal(s, ask) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _stop_asked(self) -> bool:
        """Whether a signal asked to stop (process 0's answer, so that every process stops at the same step)."""
        return bool(D.from_main([float(self.stop_signal is not None)], self.dist)[0])

    # ---- the loop ----------------------------------------------------------------------------
    def _eval_and_save(self) -> dict[str, float]:
        metrics = self.evaluate()
        if self.on_eval and self.dist.is_main:  # a recipe's extras: samples.txt, BLEU … (a dict is logged too)
            metrics = {**metrics, **(self.on_eval(self.step, self.model) or {})}
        if metrics:
            self._log({"step": self.step, **metrics})
        self.save_checkpoint()
        D.barrier(self.dist)
        return metrics

    def fit(self, resume: bool = False, evaluate_first: bool = False) -> dict[str, float]:
        """Train to max_steps (or the time budget); returns the last validation metrics. With resume,
        first continue from the run directory's checkpoint (see `resume`). evaluate_first: log the
        validation metrics of the starting model at step 0 (e.g. a pretrained one, on new data)."""
        c = self.cfg
        if evaluate_first and not resume and (metrics := self.evaluate()):
            self._log({"step": 0, **metrics})
            if not self.quiet:
                print(f"step 0: val_loss {metrics['val_loss']:.4f} (before training)")
        if resume:
            self.resume()
            if self.step >= c.max_steps:  # the loop would not run: say so rather than "finish" silently
                raise LmlabError(f"{self.run_dir} is already at step {self.step}, and max_steps is {c.max_steps}: "
                                 f"nothing to train; give --max_steps above {self.step} to continue it")
            if not self.quiet:
                print(f"resuming {self.run_dir} at step {self.step}")
        if self.dist.is_main and c.warmup_warning():
            print(f"warning: {c.warmup_warning()}", file=sys.stderr)
        if self.run_dir and self.dist.is_main:
            checkpoint.record_in_config(self.run_dir, "kernels", self.kernels)
        previous_kernel = set_linear_kernel(self.kernels[K.LINEAR])
        try:
            with autotune.replaying(K.replayed(self.kernels)):
                return self._fit()
        finally:
            set_linear_kernel(previous_kernel)

    def _fit(self) -> dict[str, float]:
        """fit's loop with the run's kernels in force: steps, the final evaluation and checkpoint."""
        self.net.train()
        start = time.perf_counter() - self.elapsed
        bar = tqdm(total=self.cfg.max_steps, initial=self.step, disable=self.quiet, dynamic_ncols=True,
                   desc="train", unit="step")
        self.stop_signal = None
        try:
            with self._signals():
                last_eval = self._loop(bar, start)
        except KeyboardInterrupt:
            bar.close()
            if self.stop_signal == "SIGINT":  # the second Ctrl-C, perhaps mid-step: nothing consistent to save
                kept = f"the step-{self.saved_at} checkpoint" if self.saved_at is not None else "no checkpoint"
                raise LmlabError(f"interrupted twice during step {self.step + 1}; not saved, {kept} is the "
                                 "last (continue from it with --resume)") from None
            self.save_checkpoint()  # raised between steps (by an on_step_end callback)
            raise LmlabError(f"interrupted at step {self.step}; checkpoint saved, continue with --resume") \
                from None
        bar.close()
        if self.stop_signal is not None:
            if self.saved_at != self.step:  # the signal came after the last step's check
                self.save_checkpoint()
            raise LmlabError(f"stopped by {self.stop_signal} at step {self.step}; checkpoint saved, continue "
                             "with --resume")
        last_eval = self._eval_and_save() or last_eval
        if not self.quiet and last_eval:
            tqdm.write(f"step {self.step}: val_loss {last_eval['val_loss']:.4f} (ppl {last_eval['val_ppl']:.2f}); "
                       f"{time.perf_counter() - start:.1f} s including the final evaluation")
        return last_eval

    def _loop(self, bar, start: float) -> dict[str, float]:
        """Steps until max_steps, the time budget, or a signal (then a checkpoint, without evaluating);
        returns the last validation metrics."""
        c = self.cfg
        last_eval: dict[str, float] = {}
        eval_cost = 0.0
        first_step, start_elapsed = self.step, self.elapsed
        tokens_at, time_at = self.tokens, time.perf_counter()
        while self.step < c.max_steps:
            row = self.train_step()
            self.elapsed = time.perf_counter() - start
            if c.time_budget:  # the clock steers lr and stopping: every process must read process 0's
                self.elapsed, eval_cost = D.from_main([self.elapsed, eval_cost], self.dist)
            if self.step % c.log_every == 0 or self.step == 1:
                now = time.perf_counter()
                tps = (self.tokens - tokens_at) / max(now - time_at, 1e-9)
                tokens_at, time_at = self.tokens, now
                self._log({"step": self.step, **row, "tokens": self.tokens,
                           "time": round(self.elapsed, 3), "tok_per_s": round(tps, 1)})
                bar.set_postfix(loss=f"{row['loss']:.4f}", lr=f"{row['lr']:.2e}", tok_s=f"{tps:,.0f}",
                                **({"val": f"{last_eval['val_loss']:.4f}"} if last_eval else {}))
            bar.update(1)
            if self.on_step_end:
                self.on_step_end(self.step)
            stop = self._stop_asked()   # a signal during this step: no evaluation, a checkpoint, the end
            # stop early enough for the final evaluation to fit in the budget; until one is timed,
            # guess it from the step time (a forward pass costs about a third of a training step)
            step_time = (self.elapsed - start_elapsed) / (self.step - first_step)
            reserve = eval_cost or step_time * c.eval_batches / (3 * c.grad_accum)
            out_of_time = c.time_budget and self.elapsed + reserve >= c.time_budget
            if self.step % c.eval_every == 0 and self.step < c.max_steps and not out_of_time and not stop:
                t0 = time.perf_counter()
                last_eval = self._eval_and_save() or last_eval
                eval_cost = time.perf_counter() - t0
                stop = self._stop_asked()  # a signal during the evaluation: its checkpoint is just saved
            if stop:
                if self.saved_at != self.step:
                    self.save_checkpoint()
                D.barrier(self.dist)
                self.stop_signal = self.stop_signal or "a signal to process 0"
                return last_eval
            if out_of_time:
                if not self.quiet:
                    tqdm.write(f"time budget of {c.time_budget:g} s spent at step {self.step}")
                break
        return last_eval

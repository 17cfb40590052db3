"""The training configuration shared by every recipe."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

from lmlab.optim.registry import OPTIMIZERS
from lmlab.optim.schedules import SCHEDULES

Optimizer = Literal[tuple(OPTIMIZERS)]   # the names of lmlab.optim.registry (listed by --help, checked here)
Schedule = Literal[tuple(SCHEDULES)]     # the names of lmlab.optim.schedules


@dataclass(frozen=True)
class TrainConfig:
    max_steps: int = 2000           # optimizer steps
    batch_size: int = 12            # sequences per micro-step, summed over all processes
    grad_accum: int = 1             # micro-steps per optimizer step
    lr: float = 1e-3                # peak learning rate, reached after warm-up
    min_lr: float = 1e-4            # floor of the cosine decay
    warmup_steps: int = 100
    optimizer: Optimizer = "torch-adamw"  # torch-adamw (fused kernel, fastest) | adamw | adam | sgd | momentum |
                                    # nesterov | adagrad | rmsprop | ftrl  (all but the first: lmlab's own)
    schedule: Schedule = "warmup_cosine"  # warmup_cosine | warmup_linear | inverse_sqrt | constant | step_decay
    step_size: int = 0              # step_decay: multiply the rate by gamma every step_size steps (0: max_steps // 3)
    gamma: float = 0.1              # step_decay's factor
    weight_decay: float = 0.1       # decoupled for adamw, L2 for the others; matrices only
    beta1: float = 0.9              # Adam/AdamW first-moment decay
    beta2: float = 0.99             # Adam/AdamW second-moment decay
    momentum: float = 0.9           # momentum / nesterov
    eps: float = 1e-8               # Adam/AdamW/AdaGrad/RMSProp denominator guard
    label_smoothing: float = 0.0    # ε of the training loss (evaluation reports the plain cross-entropy)
    smoothing: Literal["uniform", "others"] = "uniform"  # uniform: ε spread over all V classes (PyTorch); others: over the V-1 wrong ones
    grad_clip: float = 1.0          # max global gradient norm; 0 disables clipping
    eval_every: int = 250           # steps between evaluations (and checkpoints)
    eval_batches: int = 20          # validation batches per evaluation
    log_every: int = 10             # steps between metrics.jsonl lines
    dtype: Literal["fp32", "bf16", "fp16", "auto"] = "fp32"  # autocast precision; fp16 needs CUDA; auto: the
                                    # faster of bf16 and fp32 here (measured once, recorded in the run)
    seed: int = 1337
    time_budget: float = 0.0        # seconds of training before a clean stop; 0 = no limit. The cosine
                                    # then also follows the clock (not bit-reproducible across machines)
    device: str = "auto"            # auto | cpu | cuda | cuda:N
    compile: bool = False           # torch.compile the model

    def __post_init__(self):
        for f in dataclasses.fields(self):  # nan passes every comparison below, inf makes the first step diverge
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{f.name} must be a finite number, got {value}")
        for name in ("max_steps", "batch_size", "grad_accum", "eval_every", "eval_batches", "log_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.lr <= 0 or self.min_lr < 0 or self.min_lr > self.lr:
            raise ValueError(f"need 0 ≤ min_lr ≤ lr and lr > 0, got lr={self.lr}, min_lr={self.min_lr}")
        if self.warmup_steps < 0 or self.grad_clip < 0 or self.time_budget < 0:
            raise ValueError("warmup_steps, grad_clip and time_budget cannot be negative")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got '{self.optimizer}'")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got '{self.schedule}'")
        if not 0.0 <= self.label_smoothing < 1.0 or self.smoothing not in ("uniform", "others"):
            raise ValueError(f"need 0 ≤ label_smoothing < 1 and smoothing uniform|others, got "
                             f"{self.label_smoothing}, '{self.smoothing}'")
        if self.step_size < 0 or not 0 < self.gamma <= 1:
            raise ValueError(f"need step_size ≥ 0 and 0 < gamma ≤ 1, got {self.step_size}, {self.gamma}")
        if self.dtype not in ("fp32", "bf16", "fp16", "auto"):
            raise ValueError(f"dtype must be fp32, bf16, fp16 or auto, got '{self.dtype}'")

    def warmup_warning(self) -> str | None:
        """What is wrong when the warm-up does not end before max_steps: the rate never reaches its peak and
        never decays (a translation model trained so outputs empty strings), or None."""
        if self.schedule == "step_decay" or self.warmup_steps < self.max_steps:
            return None
        return (f"warmup_steps {self.warmup_steps} ≥ max_steps {self.max_steps}: the learning rate rises for the "
                f"whole run and never reaches lr {self.lr:g} nor decays; lower --warmup_steps (e.g. to "
                f"{max(1, self.max_steps // 10)}) or raise --max_steps")


@dataclass(frozen=True)
class FinetuneConfig:
    """How a pretrained encoder is fine-tuned for classification (notes 5.一 and 001)."""
    freeze_layers: int = 0                  # freeze the embeddings and this many lowest encoder layers
    classifier_dropout: float = 0.1
    pooling: Literal["cls", "mean"] = "cls"  # cls: BERT's pooler on [CLS]; mean: the mean of the real tokens

    def __post_init__(self):
        if self.freeze_layers < 0 or not 0 <= self.classifier_dropout < 1:
            raise ValueError(f"need freeze_layers ≥ 0 and 0 ≤ classifier_dropout < 1, got "
                             f"{self.freeze_layers}, {self.classifier_dropout}")
        if self.pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be one of cls, mean, got '{self.pooling}'")


@dataclass(frozen=True)
class TaggerConfig:
    """How a pretrained encoder is fine-tuned for token classification (NER): FinetuneConfig without pooling."""
    freeze_layers: int = 0                  # freeze the embeddings and this many lowest encoder layers
    classifier_dropout: float = 0.1

    def __post_init__(self):
        if self.freeze_layers < 0 or not 0 <= self.classifier_dropout < 1:
            raise ValueError(f"need freeze_layers ≥ 0 and 0 ≤ classifier_dropout < 1, got "
                             f"{self.freeze_layers}, {self.classifier_dropout}")


# Fine-tuning's defaults (notes: a small rate with warm-up, a tenth of pretraining's 1e-3; BERT's linear decay)
FINETUNE_TRAIN = TrainConfig(lr=1e-4, min_lr=0.0, schedule="warmup_linear", warmup_steps=30, max_steps=300,
                             batch_size=32, weight_decay=0.01, eval_every=50, eval_batches=50, log_every=10)

# Small image models (CNN, ViT) on a CPU: AdamW 3e-3 with a short warm-up and cosine decay, evaluated every 100 steps
IMAGE_TRAIN = TrainConfig(max_steps=1000, batch_size=64, lr=3e-3, min_lr=3e-5, warmup_steps=50, weight_decay=0.05,
                          eval_every=100, eval_batches=50, log_every=20)

# Translation's defaults: the paper's Adam (β2 0.98, ε 1e-9), inverse-√ warm-up, ε_ls 0.1, no weight decay;
# sized for a small model on a CPU (the paper: 4000 warm-up steps, 100k steps)
TRANSLATION_TRAIN = TrainConfig(max_steps=4000, lr=1e-3, min_lr=1e-5, warmup_steps=400, schedule="inverse_sqrt",
                                beta1=0.9, beta2=0.98, eps=1e-9, weight_decay=0.0, label_smoothing=0.1,
                                eval_every=500, eval_batches=10)

# ELMo's biLM: Adam without weight decay (the paper regularises only downstream), batches of 32 windows of
# 20 words (the paper: 20-step unrolls), sized for a small model on a CPU
ELMO_TRAIN = TrainConfig(max_steps=2000, batch_size=32, lr=2e-3, min_lr=1e-4, warmup_steps=100, weight_decay=0.0,
                         eval_every=250, eval_batches=20)

"""Loss functions, written out from their definitions (pure functions, no state).

Classification
- cross_entropy: −Σ_c q_c · log softmax(z)_c, with q the target distribution. Label smoothing
  (Szegedy et al. 2016, "Rethinking the Inception Architecture", §7; used by Vaswani et al. 2017,
  §5.4, with ε = 0.1) softens the one-hot q. Two definitions are in use, and they differ:

    "uniform" (PyTorch's `label_smoothing`, Szegedy et al.): q = (1 − ε)·onehot + ε/V over all V
        classes, so the true class gets 1 − ε + ε/V and each wrong class ε/V.
    "others" (the notes' definition): the true class gets 1 − ε, each of the V − 1 wrong classes
        gets ε/(V − 1).

  For V = 4, ε = 0.1:  "uniform"  q = [0.925, 0.025, 0.025, 0.025]
                       "others"   q = [0.9, 0.0333…, 0.0333…, 0.0333…]
  They are the same family: "others" with ε equals "uniform" with ε' = ε·V/(V − 1)
  (1 − ε' + ε'/V = 1 − ε and ε'/V = ε/(V − 1)).
- binary_cross_entropy_with_logits: −[w·y·log σ(x) + (1 − y)·log(1 − σ(x))], computed stably as
  max(x, 0) − x·y + log(1 + e^(−|x|)) (never exponentiates a large positive number).

Regression
- mse (L2): (x − y)²; punishes large errors hard, so outliers dominate.
- mae (L1): |x − y|; robust to outliers, but its gradient is ±1 however small the error.
- smooth_l1 (Girshick 2015, Fast R-CNN): ½d²/β where |d| < β, else |d| − ½β.
- huber (Huber 1964): ½d² where |d| < δ, else δ·(|d| − ½δ). huber(δ) = δ · smooth_l1(β = δ).

Distributions and embeddings
- kl_div_with_temperature (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network"):
  T² · KL(softmax(t/T) ‖ softmax(s/T)); the T² keeps the gradient scale independent of T.
- cosine_embedding_loss: 1 − cos(x1, x2) for similar pairs (y = 1),
  max(0, cos(x1, x2) − margin) for dissimilar ones (y = −1).

Every loss takes `reduction` = "mean" | "sum" | "none", as torch.nn.functional does.
"""

from __future__ import annotations

import torch
from torch import Tensor

COSINE_EPS = 1e-12  # added to each squared norm in cosine_embedding_loss, as PyTorch does


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    """The elementwise losses, their mean, or their sum."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"unknown reduction '{reduction}' (mean, sum, none)")


def smoothed_targets(target: Tensor, vocab_size: int, label_smoothing: float = 0.0,
                     smoothing: str = "uniform") -> Tensor:
    """The target distribution q (N, V) that cross_entropy uses, for display and tests."""
    eps, v = label_smoothing, vocab_size
    if smoothing == "uniform":
        on, off = 1.0 - eps + eps / v, eps / v
    elif smoothing == "others":
        on, off = 1.0 - eps, eps / (v - 1)
    else:
        raise ValueError(f"unknown smoothing '{smoothing}' (uniform, others)")
    q = torch.full((*target.shape, v), off, device=target.device)
    return q.scatter_(-1, target.unsqueeze(-1), on)


class _NLLOfSoftmax(torch.autograd.Function):
    """−log softmax(z)_y = logsumexp(z) − z_y per row, and its gradient written out:

        ∂/∂z_c = g · (softmax(z)_c − [c = y]) = g · exp(z_c − logsumexp(z)) − g · [c = y]

    for the row's incoming gradient g. The same numbers as log_softmax then gather, with less traffic over
    the (N, V) logits, the biggest tensor of a language model's step: forward writes no (N, V)
    log-probabilities (it keeps z and one logsumexp a row), and backward writes the gradient once,
    as exp(z − logsumexp + log g) (g ≥ 0; g = 0 gives 0), instead of a zero-filled scatter target
    followed by log_softmax's backward."""

    @staticmethod
    def forward(ctx, z: Tensor, target: Tensor) -> Tensor:
        lse = torch.logsumexp(z, dim=-1)                                    # (N,)
        ctx.save_for_backward(z, lse, target)
        return lse - z.gather(-1, target.unsqueeze(-1)).squeeze(-1)         # (N,)

    @staticmethod
    def backward(ctx, g: Tensor):
        z, lse, target = ctx.saved_tensors
        if bool((g >= 0).all()):   # the usual case (a mean or a sum of the rows): fold g into the exponent
            grad = torch.sub(z, (lse - g.log()).unsqueeze(-1)).exp_()     # g · softmax(z), (N, V)
        else:
            grad = torch.sub(z, lse.unsqueeze(-1)).exp_().mul_(g.unsqueeze(-1))
        grad.scatter_add_(-1, target.unsqueeze(-1), -g.unsqueeze(-1))      # − g at the target
        return grad, None


def cross_entropy(logits: Tensor, target: Tensor, label_smoothing: float = 0.0, smoothing: str = "uniform",
                  ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of logits (N, V) against class indices (N,), with label smoothing.

    Leading dimensions may be anything: logits (..., V), target (...) (the class dimension is last,
    unlike F.cross_entropy's dim 1). Positions whose target is `ignore_index` contribute nothing
    and are not counted by "mean". Computed (and returned) in fp32 whatever the logits' dtype, as
    autocast does. Smoothing definitions: see the module docstring.
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    if smoothing not in ("uniform", "others"):
        raise ValueError(f"unknown smoothing '{smoothing}' (uniform, others)")
    v = logits.size(-1)
    keep = target != ignore_index                                         # (N,)
    safe_target = torch.where(keep, target, torch.zeros_like(target))     # any valid index where ignored
    if label_smoothing == 0.0:   # the usual case: −log p_y from the logsumexp alone (see _NLLOfSoftmax)
        loss = _NLLOfSoftmax.apply(logits.float(), safe_target)           # (N,)
    else:                        # smoothing needs every log p_c, not only the target's
        logp = torch.log_softmax(logits.float(), dim=-1)                  # (N, V)
        nll = -logp.gather(-1, safe_target.unsqueeze(-1)).squeeze(-1)     # (N,)  −log p_y
        eps = label_smoothing
        sum_logp = logp.sum(-1)                                           # (N,)  Σ_c log p_c
        if smoothing == "uniform":   # q = (1 − ε)·onehot + ε/V
            loss = (1.0 - eps) * nll - (eps / v) * sum_logp
        else:                        # q_y = 1 − ε, q_c = ε/(V − 1) for c ≠ y
            loss = (1.0 - eps) * nll - (eps / (v - 1)) * (sum_logp + nll)
    loss = torch.where(keep, loss, torch.zeros_like(loss))
    if reduction == "mean":
        return loss.sum() / keep.sum()                                   # nan when every target is ignored
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(logits: Tensor, target: Tensor, pos_weight: Tensor | None = None,
                                     reduction: str = "mean") -> Tensor:
    """Sigmoid cross-entropy of logits x against targets y ∈ [0, 1] (same shape), stable for any x.

    loss = (1 − y)·x + w·softplus(−x),  w = 1 + (pos_weight − 1)·y  (w = 1 without pos_weight),
    softplus(−x) = log(1 + e^(−x)) = max(−x, 0) + log(1 + e^(−|x|)). With w = 1 this is the
    familiar max(x, 0) − x·y + log(1 + e^(−|x|)). `pos_weight` (broadcast over the last dimension,
    one per class) multiplies the positive term, to trade recall for precision.
    """
    x, y = logits, target
    # max(−x, 0) written as (|x| − x)/2: the same value, and at x = 0 its gradient is −½, so the
    # gradient of the loss there is σ(0) − y as it should be (clamp or relu would give −y or 1 − y)
    softplus_neg = (x.abs() - x) / 2 + torch.log1p(torch.exp(-x.abs()))
    w = 1.0 if pos_weight is None else 1.0 + (pos_weight - 1.0) * y
    return _reduce((1.0 - y) * x + w * softplus_neg, reduction)


def mse(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error (L2 loss): (x − y)²."""
    return _reduce((input - target).pow(2), reduction)


def mae(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error (L1 loss): |x − y|."""
    return _reduce((input - target).abs(), reduction)


def smooth_l1(input: Tensor, target: Tensor, beta: float = 1.0, reduction: str = "mean") -> Tensor:
    """Quadratic ½d²/β below |d| = β, linear |d| − ½β above: L1's robustness, L2's smooth minimum."""
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    d = input - target
    if beta == 0.0:                  # no quadratic zone: plain L1 (and no 0/0 in the unused branch)
        return _reduce(d.abs(), reduction)
    loss = torch.where(d.abs() < beta, 0.5 * d.pow(2) / beta, d.abs() - 0.5 * beta)
    return _reduce(loss, reduction)


def huber(input: Tensor, target: Tensor, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    """Quadratic ½d² below |d| = δ, linear δ·(|d| − ½δ) above; equals δ · smooth_l1(β = δ)."""
    if delta <= 0:
        raise ValueError(f"delta must be > 0, got {delta}")
    d = input - target
    loss = torch.where(d.abs() < delta, 0.5 * d.pow(2), delta * (d.abs() - 0.5 * delta))
    return _reduce(loss, reduction)


def kl_div_with_temperature(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 1.0,
                            reduction: str = "batchmean") -> Tensor:
    """T² · KL(p_teacher ‖ p_student) with both softmaxes at temperature T, per row of (..., V).

    KL(p ‖ q) = Σ_c p_c (log p_c − log q_c). "batchmean" sums over the classes and averages over the
    rows (every leading position; equal to torch's batchmean for 2-D (N, V) logits); "sum" and
    "none" (shape (...), one value per row) are also accepted. Gradients reach the student, and the
    teacher too unless its logits are detached (as they normally are).
    """
    t = temperature
    log_q = torch.log_softmax(student_logits / t, dim=-1)   # (N, V) student
    log_p = torch.log_softmax(teacher_logits / t, dim=-1)   # (N, V) teacher
    kl = (log_p.exp() * (log_p - log_q)).sum(-1) * t**2     # (N,)
    if reduction == "batchmean":
        return kl.mean()
    return _reduce(kl, reduction)


def cosine_embedding_loss(x1: Tensor, x2: Tensor, y: Tensor, margin: float = 0.0,
                          reduction: str = "mean") -> Tensor:
    """Pull pairs with y = 1 together (1 − cos) and push y = −1 pairs below cos = margin.

    x1, x2: (N, D) (or (D,) with a scalar y); y: (N,) of ±1. cos = x1·x2 / √((|x1|² + ε)(|x2|² + ε)),
    ε = 1e-12 as in PyTorch, so a zero vector gives cos = 0 instead of 0/0.
    """
    dot = (x1 * x2).sum(-1)                                                  # (N,)
    norms = ((x1 * x1).sum(-1) + COSINE_EPS) * ((x2 * x2).sum(-1) + COSINE_EPS)
    cos = dot / norms.sqrt()                                                 # (N,)
    zero = torch.zeros_like(cos)
    loss = torch.where(y == 1, 1.0 - cos, zero) + torch.where(y == -1, (cos - margin).clamp_min(0.0), zero)
    return _reduce(loss, reduction)

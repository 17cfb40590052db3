"""Batch size on a linear model, y = w·x + b (notes 000, "Batch Size 的解释").

The notes fit x ∈ 1…8 with labels 0,0,0,0,0,1,1,1 by MSE, from w = 0.1, b = 0.2 with lr 0.1, and
work out by hand one epoch with batch size 4 (two steps) and one step with batch size 32 (the 8
samples repeated 4 times). They conclude that the small batches swing w back and forth
(0.1 → −0.15 → 2.062) while the big batch nudges it gently (0.1 → 0.0175).

This run does the same steps with lmlab's `mse` loss, autograd and `SGD`, and checks every number
the notes print. The batch-4 forward passes, losses and w-gradients agree; the second batch's
b-gradient does not (the notes summed the residuals to −7.46, they sum to −6.46), and the batch-32
gradients are twice the notes' (1/32 × 2 × 4 is 1/4, not 1/8), so the big batch takes w to
−0.065, not 0.0175. The conclusion survives, in a sharper form: the big batch's step is ~13x
smaller than the small batches' swing, but it too lowers w (the least-squares w* = 0.179 is above
0.1): b starts too high and x is not centred, so the first steps of both mostly fix b. And the
notes' lr 0.1 is past the stability limit 2/λ_max ≈ 0.038 of this loss: continued, both diverge.
"""

from __future__ import annotations

from pathlib import Path

import torch

from lmlab.ops.losses import mse
from lmlab.optim.sgd import SGD
from lmlab.tools.explain._report import Notes, heading, save_plot, vec

X = torch.arange(1.0, 9.0, dtype=torch.float64)                        # samples 1 … 8
Y = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1], dtype=torch.float64)        # label: x > 5
W0, B0, LR = 0.1, 0.2, 0.1


def sgd_step(w: float, b: float, x: torch.Tensor, y: torch.Tensor, lr: float = LR) -> dict:
    """One step of lmlab's SGD on mse(w·x + b, y); returns everything the notes write down."""
    w_ = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    b_ = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    pred = w_ * x + b_                                   # step 1: forward
    loss = mse(pred, y)                                  # step 2: loss = mean((pred − y)²)
    loss.backward()                                      # step 3: ∂loss/∂w, ∂loss/∂b
    grad_w, grad_b = w_.grad.item(), b_.grad.item()
    SGD([w_, b_], lr=lr).step()                          # step 4: w ← w − lr·∂loss/∂w
    r = (pred - y).detach()                              # residuals, for the hand formulas
    return dict(pred=pred.detach(), sq=r**2, loss=loss.item(), sum_rx=(r * x).sum().item(),
                sum_r=r.sum().item(), grad_w=grad_w, grad_b=grad_b, w=w_.item(), b=b_.item())


def train(batch_size: int, lr: float, epochs: int) -> list[tuple[float, float]]:
    """(w, b) after every step of `epochs` passes over the 8 samples in order."""
    w, b, path = W0, B0, [(W0, B0)]
    for _ in range(epochs):
        for i in range(0, len(X), batch_size):
            s = sgd_step(w, b, X[i:i + batch_size], Y[i:i + batch_size], lr)
            w, b = s["w"], s["b"]
            path.append((w, b))
    return path


def full_loss(w: float, b: float) -> float:
    return mse(w * X + b, Y).item()


def run(out: Path | None) -> dict:
    notes = Notes()
    print("model y = w·x + b, loss MSE, SGD lr 0.1, from w = 0.1, b = 0.2")
    print(f"samples {X.int().tolist()}, labels {Y.int().tolist()}")

    heading("Scenario 1, batch size 4 — batch 1: x = [1, 2, 3, 4], labels [0, 0, 0, 0]")
    s1 = sgd_step(W0, B0, X[:4], Y[:4])
    print(f"  predictions {vec(s1['pred'])}   (notes: [0.3, 0.4, 0.5, 0.6])")
    notes.check("MSE = 1/4 × 0.86", "0.215", s1["loss"])
    notes.check("Σ (pred − y)·x", "5.0", s1["sum_rx"])
    notes.check("∂L/∂w = 2/4 × 5.0", "2.5", s1["grad_w"])
    notes.check("Σ (pred − y)", "1.8", s1["sum_r"])
    notes.check("∂L/∂b = 2/4 × 1.8", "0.9", s1["grad_b"])
    notes.check("w ← 0.1 − 0.1 × 2.5", "-0.15", s1["w"])
    notes.check("b ← 0.2 − 0.1 × 0.9", "0.11", s1["b"])

    heading("Scenario 1 — batch 2: x = [5, 6, 7, 8], labels [0, 1, 1, 1], w = −0.15, b = 0.11")
    s2 = sgd_step(s1["w"], s1["b"], X[4:], Y[4:])
    print(f"  predictions {vec(s2['pred'])}   (notes: [-0.64, -0.79, -0.94, -1.09])")
    print(f"  (pred − y)² {vec(s2['sq'])}   (notes: [0.41, 3.20, 3.76, 4.37])")
    notes.check("Σ (pred − y)²", "11.74", s2["sq"].sum(),
                why="the notes added the squares rounded to 2 decimals")
    notes.check("MSE = 1/4 × 11.74", "2.935", s2["loss"], why="follows from the rounded squares")
    notes.check("Σ (pred − y)·x", "-44.24", s2["sum_rx"])
    notes.check("∂L/∂w = 2/4 × (−44.24)", "-22.12", s2["grad_w"])
    notes.check("Σ (pred − y)", "-7.46", s2["sum_r"],
                why="arithmetic slip: −0.64 − 1.79 − 1.94 − 2.09 = −6.46, not −7.46")
    notes.check("∂L/∂b = 2/4 × Σ", "-3.73", s2["grad_b"], why="from the slip: 2/4 × (−6.46) = −3.23")
    notes.check("w ← −0.15 − 0.1 × (−22.12)", "2.062", s2["w"])
    notes.check("b ← 0.11 − 0.1 × ∂L/∂b", "0.483", s2["b"], why="from the slip: 0.11 + 0.323 = 0.433")

    heading("Scenario 2, batch size 32: the 8 samples repeated 4 times, w = 0.1, b = 0.2")
    big = sgd_step(W0, B0, X.repeat(4), Y.repeat(4))
    one = sgd_step(W0, B0, X, Y)
    print(f"  predictions (first 8) {vec(big['pred'][:8], 2)}")
    notes.check("Σ (pred − y)² over the 8", "1.40", one["sq"].sum())
    notes.check("MSE = 1.40 / 8", "0.175", big["loss"])
    notes.check("Σ (pred − y)·x over the 8", "6.6", one["sum_rx"])
    notes.check("∂L/∂w = 1/32 × 2 × 4 × 6.6", "0.825", big["grad_w"],
                why="1/32 × 2 × 4 = 1/4; the notes wrote 1/8 (dropped the 2): 6.6/4 = 1.65")
    notes.check("Σ (pred − y) over the 8", "2.2", one["sum_r"])
    notes.check("∂L/∂b = 1/4 × 2.2", "0.275", big["grad_b"], why="same factor: 2.2/4 = 0.55")
    notes.check("w ← 0.1 − 0.1 × ∂L/∂w", "0.0175", big["w"], why="0.1 − 0.1 × 1.65 = −0.065")
    notes.check("b ← 0.2 − 0.1 × ∂L/∂b", "0.1725", big["b"], why="0.2 − 0.1 × 0.55 = 0.145")
    same = abs(big["grad_w"] - one["grad_w"]) < 1e-12 and abs(big["grad_b"] - one["grad_b"]) < 1e-12
    print(f"  the 8 samples repeated 4 times give the gradients of the 8 alone (a mean is a mean): {same}")

    heading("What the numbers say")
    A = torch.stack([X, torch.ones_like(X)], dim=1)                  # least squares: [x 1]·[w b]ᵀ ≈ y
    w_star, b_star = torch.linalg.lstsq(A, Y[:, None]).solution.squeeze().tolist()
    lam = torch.linalg.eigvalsh(2 * A.T @ A / len(X))                 # Hessian of the full-batch MSE
    print(f"  batch 4:  w 0.1 → {s1['w']:.3f} → {s2['w']:.3f}   (a swing of {s2['w'] - s1['w']:.2f})")
    print(f"  batch 32: w 0.1 → {big['w']:.3f}            (one step of {big['w'] - W0:.3f})")
    best_loss = full_loss(w_star, b_star)
    print(f"  best fit: w* = {w_star:.4f}, b* = {b_star:.4f} (loss {best_loss:.4f}): w must rise,")
    print("  yet both first steps lower it — b starts too high and x is not centred, so w and b share")
    print("  the blame. The big batch's advantage is the size of the step, not its sign.")
    print(f"  curvature: the loss's Hessian has eigenvalues {lam[0]:.2f} and {lam[1]:.2f}; gradient descent")
    print(f"  is stable only for lr < 2/λ_max = {2 / lam[1]:.4f}. Continue for 30 epochs:")
    final = {}
    for lr in (LR, 0.02):
        for bs in (4, 32):
            w, b = train(min(bs, 8), lr, 30)[-1]   # a batch of 32 = the 8 samples 4 times = a batch of 8
            final[(lr, bs)] = full_loss(w, b)
            print(f"    lr {lr:<4}  batch {bs:>2}: loss {final[(lr, bs)]:.4g}  (w = {w:.4g}, b = {b:.4g})")
    notes.tally()

    def draw(plt):
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
        ws, bs = torch.linspace(-0.6, 2.4, 200, dtype=torch.float64), torch.linspace(-1.0, 1.0, 200,
                                                                                     dtype=torch.float64)
        Wg, Bg = torch.meshgrid(ws, bs, indexing="xy")
        L = ((Wg[..., None] * X + Bg[..., None] - Y) ** 2).mean(-1)
        ax.contour(Wg, Bg, L.log10(), levels=20, cmap="Greys", linewidths=0.6)
        p4 = [(W0, B0), (s1["w"], s1["b"]), (s2["w"], s2["b"])]
        ax.plot(*zip(*p4), "o-", color="C3", label="batch 4 (2 steps)")
        ax.plot(*zip(*[(W0, B0), (big["w"], big["b"])]), "s-", color="C0", label="batch 32 (1 step)")
        ax.plot(w_star, b_star, "k*", ms=12, label="least-squares fit")
        ax.set(xlabel="w", ylabel="b", title="one epoch at the notes' lr 0.1, on the full-data loss")
        ax.legend(fontsize=8)
        for bs, color in ((4, "C3"), (32, "C0")):
            path = train(min(bs, 8), 0.02, 30)
            steps = torch.arange(len(path)) * min(bs, 8) / len(X)
            ax2.plot(steps, [w for w, _ in path], color=color, label=f"batch {bs}")
        ax2.axhline(w_star, color="k", ls=":", label="w*")
        ax2.set(xlabel="epoch", ylabel="w", title="w during 30 epochs at lr 0.02 (lr 0.1 diverges)")
        ax2.legend(fontsize=8)
        fig.tight_layout()
        return fig

    save_plot(out, "batch-size.png", draw)
    return dict(batch4=[(s1["w"], s1["b"]), (s2["w"], s2["b"])], batch32=(big["w"], big["b"]),
                grads32=(big["grad_w"], big["grad_b"]), checks=notes.rows, final_loss=final)

"""Breaking the symmetry (notes 002 §I.3): why weights are initialised at random.

The notes: if the units of a layer start with the same weights, they compute the same thing,
receive the same gradient and so stay identical forever — the layer works like a single unit.
Random initialisation gives every unit its own starting point.

This run trains a 2-2-1 tanh network on XOR (which needs two *different* hidden units) with
lmlab's SGD and MSE, three times: both hidden units initialised to the same weights, all weights
zero, and at random. Identical units get identical gradients at every step (their difference
stays exactly 0.0) and the network cannot fit XOR; with zeros the hidden layer gets no gradient
at all; the random start learns it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from lmlab.ops.losses import mse
from lmlab.optim.sgd import SGD
from lmlab.tools.explain._report import heading, save_plot, vec

X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])                  # XOR
STEPS, LR, REPORT = 300, 0.5, (0, 1, 10, 100, 300)


def make_net(init: str) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1))
    hidden, output = net[0], net[2]
    if init == "same":          # every hidden unit gets the same incoming weights and bias
        with torch.no_grad():
            hidden.weight.copy_(torch.tensor([[0.3, -0.2], [0.3, -0.2]]))
            hidden.bias.fill_(0.1)
            output.weight.fill_(0.5)
            output.bias.zero_()
    elif init == "zeros":
        for p in net.parameters():
            nn.init.zeros_(p)
    else:                       # "random": a seeded draw of PyTorch's default init
        gen = torch.Generator().manual_seed(3)
        with torch.no_grad():
            for p in net.parameters():
                p.uniform_(-1.0, 1.0, generator=gen)
    return net


def train(init: str) -> dict:
    """Full-batch SGD on XOR; the hidden weights, their gradients and the loss at every step."""
    net = make_net(init)
    opt = SGD(net.parameters(), lr=LR)
    hist = dict(weights=[], grads=[], loss=[])
    for step in range(STEPS + 1):
        loss = mse(net(X), Y)
        opt.zero_grad()
        loss.backward()
        hist["weights"].append(net[0].weight.detach().clone())      # (2 units, 2 inputs)
        hist["grads"].append(net[0].weight.grad.detach().clone())
        hist["loss"].append(loss.item())
        if step < STEPS:
            opt.step()
    hist["pred"] = net(X).detach().flatten()
    return hist


def run(out: Path | None) -> dict:
    runs = {init: train(init) for init in ("same", "zeros", "random")}
    results = {}
    for init, title in (("same", "both hidden units start as w = [0.3, −0.2], b = 0.1"),
                        ("zeros", "every weight starts at 0"),
                        ("random", "weights drawn uniformly from [−1, 1] (seeded)")):
        h = runs[init]
        heading(f"{init}: {title}")
        print(f"  {'step':>5}  {'unit 1 weights':<18} {'unit 2 weights':<18} "
              f"{'|grad 1 − grad 2|':>17}  {'loss':>7}")
        for step in REPORT:
            w, g = h["weights"][step], h["grads"][step]
            print(f"  {step:>5}  {vec(w[0], 3):<18} {vec(w[1], 3):<18} {(g[0] - g[1]).abs().max():>17.2e}  "
                  f"{h['loss'][step]:>7.4f}")
        unit_diff = max((w[0] - w[1]).abs().max().item() for w in h["weights"])
        print(f"  largest |unit 1 − unit 2| over all {STEPS} steps: {unit_diff:.3g}")
        print(f"  predictions for XOR [0, 1, 1, 0]: {vec(h['pred'], 2)}")
        results[init] = dict(max_unit_diff=unit_diff, final_loss=h["loss"][-1], pred=h["pred"].tolist())
    print("\nSame start, same gradient, same update, forever: the two units remain one, and one tanh unit")
    print("cannot separate XOR. Zeros are worse still: the output weights are 0, so no gradient reaches")
    print("the hidden layer at all. The random start gives each unit its own job, and XOR is learned.")

    def draw(plt):
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        for ax, init in ((axes[0], "same"), (axes[1], "random")):
            w = torch.stack(runs[init]["weights"])                      # (steps, unit, input)
            for unit, style in ((0, "-"), (1, "--")):
                for i in range(2):
                    ax.plot(w[:, unit, i], style, color=f"C{i}",
                            label=f"unit {unit + 1}, weight from x{i + 1}")
            ax.set(xlabel="step", ylabel="weight", title=f"hidden weights, {init} init")
            ax.legend(fontsize=7)
        for init in runs:
            axes[2].semilogy(runs[init]["loss"], label=f"{init} init")
        axes[2].set(xlabel="step", ylabel="MSE", title="loss on XOR")
        axes[2].legend(fontsize=8)
        fig.tight_layout()
        return fig

    save_plot(out, "symmetry.png", draw)
    return results

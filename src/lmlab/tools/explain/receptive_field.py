"""Two stacked 3×3 convolutions see what one 5×5 sees, with fewer weights (notes 004 四, VGG).

The notes: "2个3X3卷积层约等于1个5X5卷积的感受野,但参数更低". The receptive field of an output pixel is the
set of input pixels it depends on. By formula, stacking stride-1 convolutions of kernel k adds k − 1 each:
r = 1 + Σ (k_i − 1), so 3×3 + 3×3 gives 5 and three 3×3 give 7. Here it is measured instead: the gradient of
one output pixel with respect to the input is non-zero exactly on the pixels it sees. Weights with C
channels in and out (no bias): two 3×3 have 2·9·C² = 18C², one 5×5 has 25C² (three 3×3: 27C² vs 7×7's 49C²),
and the stack has a ReLU between, one more non-linearity.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from lmlab.tools.explain._report import heading, save_plot

C, SIZE = 4, 15   # channels, input side


def field(stack: nn.Module) -> torch.Tensor:
    """|∂ y[centre] / ∂ x| summed over channels: (SIZE, SIZE), non-zero where the centre output looks."""
    x = torch.randn(1, C, SIZE, SIZE, requires_grad=True)
    y = stack(x)                                                                  # (1, C, H', W')
    y[0, :, y.shape[-2] // 2, y.shape[-1] // 2].sum().backward()
    return x.grad[0].abs().sum(0)


def extent(grad: torch.Tensor) -> tuple[int, int]:
    rows, cols = grad.nonzero(as_tuple=True)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def run(out: Path | None) -> dict:
    torch.manual_seed(0)
    stacks = {
        "3×3 + 3×3": nn.Sequential(nn.Conv2d(C, C, 3, bias=False), nn.ReLU(), nn.Conv2d(C, C, 3, bias=False)),
        "5×5": nn.Conv2d(C, C, 5, bias=False),
        "3×3 ×3": nn.Sequential(*[m for _ in range(3) for m in (nn.Conv2d(C, C, 3, bias=False), nn.ReLU())][:-1]),
        "7×7": nn.Conv2d(C, C, 7, bias=False),
    }
    with torch.no_grad():  # positive weights: no ReLU unit is dead, so every pixel in the field really counts
        for s in stacks.values():
            for p in s.parameters():
                p.abs_()
    heading(f"receptive field of the centre output pixel, measured by its gradient ({C} channels in and out)")
    result, grads = {}, {}
    for name, stack in stacks.items():
        g = field(stack)
        h, w = extent(g)
        kernels = [m.kernel_size[0] for m in stack.modules() if isinstance(m, nn.Conv2d)]
        formula = 1 + sum(k - 1 for k in kernels)
        n = sum(p.numel() for p in stack.parameters())
        print(f"  {name:<10} field {h}×{w} (formula 1 + Σ(k−1) = {formula})   weights {n:>4} = "
              f"{n // C ** 2}·C²")
        result[name] = {"field": h, "formula": formula, "weights": n, "per_c2": n // C ** 2}
        grads[name] = g
    print(f"\n  two 3×3: {result['3×3 + 3×3']['per_c2']}C² vs one 5×5: {result['5×5']['per_c2']}C² "
          f"({1 - 18 / 25:.0%} fewer), the same 5×5 field, and a ReLU in between")

    def draw(plt):
        fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
        for ax, (name, g) in zip(axes, grads.items()):
            ax.imshow((g > 0).float().numpy(), cmap="Greys")
            ax.set_title(f"{name}: {result[name]['field']}×{result[name]['field']}, {result[name]['per_c2']}C²")
            ax.axis("off")
        fig.suptitle("input pixels the centre output depends on (non-zero gradient)")
        return fig
    save_plot(out, "receptive-field.png", draw)
    return result

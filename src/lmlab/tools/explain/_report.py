"""What every topic prints with: headings, vectors, notes-vs-lmlab checks, and plots."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write

MARKS = {"✓": "agrees", "≈": "the notes rounded", "✗": "differs"}


def heading(title: str) -> None:
    print(f"\n{title}\n{'─' * len(title)}")


def vec(xs: Sequence[float], digits: int = 4) -> str:
    """[0.3000, 0.4000, …] for a list or 1-D tensor."""
    if isinstance(xs, torch.Tensor):
        xs = xs.detach().flatten().tolist()
    return "[" + ", ".join(f"{float(x):.{digits}f}" for x in xs) + "]"


def _decimals(printed: str) -> int:
    return len(printed.split(".")[1]) if "." in printed else 0


class Notes:
    """The comparisons of one topic with the numbers printed in the notes.

    The notes' value is given as a string, exactly as printed there, so "agrees" can mean what a
    reader means: equal once lmlab's number is rounded to the digits the notes show (✓). A value
    off by less than 1 % is marked ≈ (the notes rounded an intermediate result); anything else ✗,
    with `why` naming the step where the notes went wrong.
    """

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def check(self, label: str, printed: str, computed: float, why: str = "", digits: int = 4) -> str:
        value, computed = float(printed), float(computed)
        tol = 0.5 * 10 ** -_decimals(printed) + 1e-9
        diff = abs(computed - value)
        mark = "✓" if diff <= tol else "≈" if diff <= 0.01 * abs(value) + tol else "✗"
        print(f"  {label:<34} notes: {printed:>8}   lmlab: {computed:>{digits + 5}.{digits}f}  {mark}")
        if mark != "✓" and why:
            print(f"      ↳ {why}")
        self.rows.append(dict(label=label, notes=value, computed=computed, mark=mark))
        return mark

    def tally(self) -> None:
        counts = {m: sum(r["mark"] == m for r in self.rows) for m in MARKS}
        parts = [f"{n} {m} ({MARKS[m]})" for m, n in counts.items() if n]
        print(f"\nnotes vs lmlab: {', '.join(parts)}")

    @property
    def differs(self) -> list[str]:
        return [r["label"] for r in self.rows if r["mark"] == "✗"]


def save_plot(out: Path | None, name: str, draw: Callable) -> Path | None:
    """Call draw(plt) -> figure and save it as out/name; without `out`, only say how to get it."""
    if out is None:
        print(f"\n(plot: add --out DIR to save {name})")
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LmlabError(f"cannot create --out {out}: {e.strerror}") from None
    fig = draw(plt)
    path = out / name
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    print(f"\nplot: {path}")
    return path

"""What the Trainer writes beside a run: metrics.jsonl read back, and loss.png (train and validation loss
against step) drawn from it."""

from __future__ import annotations

import json
from pathlib import Path

from lmlab.io.atomic import atomic_write
from lmlab.train.fonts import font_families, missing_glyphs, note_once, quiet_glyphs


def read_metrics(path: str | Path) -> list[dict]:
    """The rows of a metrics.jsonl, one dict a line; [] when the file does not exist yet."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def plot_loss(metrics_path: str | Path, out_path: str | Path, title: str = "") -> None:
    """Draw the train and validation loss of a metrics.jsonl into a PNG (matplotlib imported only here: heavy)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(metrics_path)
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in rows if "val_loss" in r]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if train:
        ax.plot(*zip(*train), label="train", alpha=0.7, lw=1)
    if val:
        ax.plot(*zip(*val), "o-", label="validation", ms=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(title, fontfamily=font_families([title]))
    ax.grid(alpha=0.3)
    ax.legend()
    if missing_glyphs([title]):
        note_once("loss-title", f"note: no font with Chinese/Japanese/Korean glyphs is installed, so the title "
                                f"'{title}' of loss.png shows boxes; install one (e.g. fonts-noto-cjk) to see it")
    with quiet_glyphs():
        fig.tight_layout()
        atomic_write(out_path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)

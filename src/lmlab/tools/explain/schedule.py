"""Learning-rate schedules (notes 002 §II.5; `lmlab.optim.schedules`).

The notes: one fixed rate does not suit a whole run. Warm-up (a small rate rising linearly to
the target) keeps the first, chaotic updates from random weights from wrecking the model; decay
afterwards lets it settle into a minimum with ever smaller steps. "Linear warm-up + cosine
annealing" is the robust modern default.

This run evaluates every schedule in `lmlab.optim.schedules.SCHEDULES` with one set of settings,
prints the rate at the turning points, and plots them all (a schedule added to SCHEDULES shows
up here by itself). It also checks the original Transformer's "Noam" schedule against the paper:
d_model = 512, 4000 warm-up steps peak at 512^−0.5 · 4000^−0.5 ≈ 7.0e-4.
"""

from __future__ import annotations

from pathlib import Path

from lmlab.optim.schedules import SCHEDULES, schedule_lr
from lmlab.tools.explain._report import heading, save_plot

SETTINGS = dict(lr=1e-3, warmup=100, total=1000, min_lr=1e-4, step_size=300, gamma=0.5)
STEPS = (0, 99, 100, 300, 550, 999, 1100)


def curve(name: str, steps: int, **settings) -> list[float]:
    return [schedule_lr(name, s, **settings) for s in range(steps)]


def run(out: Path | None) -> dict:
    s = SETTINGS
    heading("Settings shared by every schedule")
    print(f"  lr {s['lr']:g} (peak), warm-up {s['warmup']} steps, total {s['total']}, "
          f"min_lr {s['min_lr']:g}; step_decay: × {s['gamma']} every {s['step_size']} steps")
    print("  (each schedule uses the settings it needs: see lmlab.optim.schedules)")

    heading("Learning rate at the turning points")
    print(f"  {'schedule':<15}" + "".join(f"{'step ' + str(t):>11}" for t in STEPS))
    curves = {}
    for name in SCHEDULES:
        curves[name] = curve(name, max(STEPS) + 1, **s)
        print(f"  {name:<15}" + "".join(f"{curves[name][t]:>11.2e}" for t in STEPS))
    print(f"  Warm-up: step i < warmup takes lr·(i + 1)/warmup, so step 0 already moves (lr/{s['warmup']}).")
    print("  inverse_sqrt without d_model is rescaled so its peak is lr; it decays ∝ 1/√step, never to 0.")

    heading("The original Transformer's schedule (Vaswani et al. 2017, eq. 3)")
    noam = curve("inverse_sqrt", 20_000, lr=1.0, warmup=4000, d_model=512)
    peak = max(noam)
    print("  lr = d_model^−0.5 · min(s^−0.5, s · warmup^−1.5), s = step + 1, d_model 512, warm-up 4000:")
    print(f"  peak {peak:.3e} at step {noam.index(peak)}; the paper's 512^−0.5 · 4000^−0.5 = "
          f"{512 ** -0.5 * 4000 ** -0.5:.3e}")

    def draw(plt):
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw=dict(width_ratios=(2, 1)))
        for name, lrs in curves.items():
            ax.plot(lrs, label=name)
        ax.axvline(s["warmup"], color="k", ls=":", lw=1, label="end of warm-up")
        ax.axvline(s["total"], color="k", ls="--", lw=1, label="total")
        ax.set(xlabel="step", ylabel="learning rate", title="lmlab.optim.schedules, shared settings")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax2.plot(noam)
        ax2.set(xlabel="step", ylabel="learning rate")
        ax2.set_title("Noam (Transformer): d_model 512, warm-up 4000", fontsize=10)
        ax2.grid(alpha=0.3)
        fig.tight_layout()
        return fig

    save_plot(out, "schedule.png", draw)
    return dict(curves={name: [c[t] for t in STEPS] for name, c in curves.items()}, steps=STEPS,
                noam_peak=peak, noam_peak_step=noam.index(peak))

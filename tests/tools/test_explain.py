"""`lmlab explain`: every topic runs through the CLI (in-process), prints its numbers, agrees with
the notes where the notes are right (and flags exactly the numbers where they are not), and saves
its plot when asked. Each topic runs once, in a module fixture; the whole file takes ~10 s.
"""

from __future__ import annotations

import contextlib
import io
import math
from dataclasses import dataclass
from pathlib import Path

import pytest

import lmlab.tools.explain as explain
from lmlab.cli import main
from lmlab.optim.schedules import SCHEDULES
from lmlab.tools.explain import TOPICS
from lmlab.tools.explain._report import Notes


@dataclass
class Run:
    code: int
    stdout: str
    numbers: dict    # what the topic's run() returned
    out: Path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    """`lmlab explain TOPIC --out DIR` for every topic, with the numbers each run returned."""
    out = tmp_path_factory.mktemp("explain")
    returned, real = {}, explain.run_topic

    def recording(name, out=None, **options):
        returned[name] = real(name, out, **options)
        return returned[name]

    results = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(explain, "run_topic", recording)
        for name in TOPICS:
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                code = main(["explain", name, "--out", str(out)])
            results[name] = Run(code, buf.getvalue(), returned.get(name), out)
    return results


def marks(run: Run) -> dict[str, str]:
    return {row["label"]: row["mark"] for row in run.numbers["checks"]}


# ---- every topic ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(TOPICS))
def test_every_topic_runs_prints_and_saves_its_plot(runs, name):
    run = runs[name]
    assert run.code == 0
    assert len(run.stdout.splitlines()) > 10
    png = run.out / f"{name}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot: {png}" in run.stdout


def test_list_names_every_topic_with_a_summary(capsys):
    assert main(["explain", "--list"]) == 0
    out = capsys.readouterr().out
    for name, topic in TOPICS.items():
        assert f"{name}  " in out and topic.summary in out


@pytest.mark.parametrize("argv, needle", [(["explain", "no-such-topic"], "unknown topic 'no-such-topic'"),
                                          (["explain"], "say which topic"),
                                          (["explain", "softmx"], "did you mean softmax?")])
def test_bad_topic_is_one_error_line_listing_the_topics(capsys, argv, needle):
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0]
    assert all(name in lines[0] for name in TOPICS)
    assert "Traceback" not in captured.err


def test_without_out_no_file_is_written_and_output_is_deterministic(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    outputs = []
    for _ in range(2):
        assert main(["explain", "masking"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert "add --out DIR to save masking.png" in outputs[0]
    assert list(tmp_path.iterdir()) == []


def test_out_that_is_a_file_is_an_error(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["explain", "softmax", "--out", str(f)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_notes_check_marks():
    notes = Notes()
    with contextlib.redirect_stdout(io.StringIO()):
        assert notes.check("agrees", "2.212", 2.2120) == "✓"
        assert notes.check("rounded", "2.935", 2.93635) == "≈"
        assert notes.check("wrong", "0.825", 1.65) == "✗"
        assert notes.check("printed digits count", "0.09", 0.0900306) == "✓"
    assert notes.differs == ["wrong"]


# ---- the numbers, topic by topic -----------------------------------------------------------------
def test_batch_size_reproduces_the_notes_and_flags_their_slips(runs):
    run = runs["batch-size"]
    (w1, b1), (w2, b2) = run.numbers["batch4"]
    assert (w1, b1) == pytest.approx((-0.15, 0.11))       # notes ✓
    assert w2 == pytest.approx(2.062)                     # notes ✓
    assert b2 == pytest.approx(0.433)                     # notes: 0.483 (their Σ residuals −7.46 is −6.46)
    assert run.numbers["batch32"] == pytest.approx((-0.065, 0.145))   # notes: 0.0175, 0.1725 (1/8 for 1/4)
    assert run.numbers["grads32"] == pytest.approx((1.65, 0.55))
    m = marks(run)
    assert {label for label, mark in m.items() if mark == "✗"} == {
        "Σ (pred − y)", "∂L/∂b = 2/4 × Σ", "b ← 0.11 − 0.1 × ∂L/∂b", "∂L/∂w = 1/32 × 2 × 4 × 6.6",
        "∂L/∂b = 1/4 × 2.2", "w ← 0.1 − 0.1 × ∂L/∂w", "b ← 0.2 − 0.1 × ∂L/∂b"}
    assert m["MSE = 1/4 × 11.74"] == "≈"
    assert "notes:    2.062   lmlab:    2.0620  ✓" in run.stdout
    assert run.numbers["final_loss"][(0.1, 4)] > 1e6 and run.numbers["final_loss"][(0.02, 32)] < 0.2


def test_softmax_numbers(runs):
    n = runs["softmax"].numbers
    assert n["softmax_123"] == pytest.approx([0.0900, 0.2447, 0.6652], abs=1e-4)
    assert n["masked"] == pytest.approx([0.1192, 0.0, 0.8808], abs=1e-4)
    assert n["attention_lmlab"] == pytest.approx(n["masked"], abs=1e-6)     # lmlab's mask = −∞
    assert n["attention_scores"] == pytest.approx([0.1970, 0.0537, 0.7227, 0.0267], abs=1e-4)
    assert [label for label, mark in marks(runs["softmax"]).items() if mark == "✗"] == [
        f"attention_weights[{i}]" for i in range(4)]                         # the notes' [0.31, 0.08, …]
    h = n["entropy"]
    assert h[0.25] < h[0.5] < h[1.0] < h[2.0] < h[5.0] < math.log(3) and h[0.01] < 1e-6


def test_attention_scaling_variance_and_saturation(runs):
    n = runs["attention-scaling"].numbers
    for d_k, (raw, scaled) in n["variance"].items():
        assert raw == pytest.approx(d_k, rel=0.1)
        assert scaled == pytest.approx(1.0, abs=0.1)
    sat = n["saturation"]
    raw_max = [sat[d]["raw"]["max_p"] for d in sorted(sat)]
    assert raw_max == sorted(raw_max) and raw_max[-1] > 0.9
    assert all(0.08 < sat[d]["scaled"]["max_p"] < 0.13 for d in sat)
    assert sat[1024]["raw"]["jacobian"] < 0.5 * sat[1024]["scaled"]["jacobian"]
    assert n["kernel_diff"] < 1e-6


def test_label_smoothing_both_definitions(runs):
    n = runs["label-smoothing"].numbers
    assert n["others"] == pytest.approx([0.025, 0.025, 0.9, 0.025, 0.025])   # the notes' example
    assert n["uniform"] == pytest.approx([0.02, 0.02, 0.92, 0.02, 0.02])     # PyTorch's
    assert n["torch_agrees"]
    losses = n["losses"]
    assert losses["sure"]["none"] < losses["right"]["none"]
    assert losses["sure"]["others"] > losses["right"]["others"]
    assert n["best"]["others"]["gap"] == pytest.approx(math.log(36))
    assert n["best"]["others"]["loss_at_gap"] == pytest.approx(n["best"]["others"]["loss"])
    assert set(marks(runs["label-smoothing"]).values()) == {"✓"}


def test_embedding_scale_ratios(runs):
    t = runs["embedding-scale"].numbers["table"]
    assert t["notes × 1"]["ratio"] == pytest.approx(16, rel=0.02)             # ‖pos‖ = √(512/2), ‖tok‖ ≈ 1
    assert t["notes × √d"]["ratio"] == pytest.approx(1 / math.sqrt(2), rel=0.02)
    assert t["notes × 1"]["token_recovered"] < 0.2 and t["notes × √d"]["token_recovered"] == 1.0
    assert set(marks(runs["embedding-scale"]).values()) == {"✓"}


def test_adam_l2_decay_depends_on_the_gradient_adamw_does_not(runs):
    n = runs["adam-vs-adamw"].numbers
    assert n["sgd_diff"] < 1e-12
    ratio_w = [w / f for w, f in zip(n["adamw"], n["free"])]
    assert ratio_w == pytest.approx([math.exp(-1)] * 5, rel=1e-3)           # (1 − lr·λ)^1000 each
    rates = dict(zip(n["scales"], n["rate_adam_100"]))
    assert rates[10.0] == pytest.approx(0.1, rel=0.2)
    assert rates[1.0] == pytest.approx(1.0, rel=0.2)
    assert rates[0.1] > 5 and rates[0.001] > 5
    assert n["adam"][4] > 2 * n["adamw"][4] and n["adam"][2] < 0.01 * n["adamw"][2]
    # no loss gradient: AdamW keeps the proportions, Adam + L2 takes off the same amount from each
    kept = [w / w0 for w, w0 in zip(n["adamw_sizes"], n["sizes"])]
    assert kept == pytest.approx([math.exp(-1)] * len(n["sizes"]), rel=1e-2)
    assert n["adam_sizes"][-1] / n["sizes"][-1] > 0.85 and abs(n["adam_sizes"][0]) < 1e-3


def test_vanishing_gradients(runs):
    n = runs["vanishing-gradients"].numbers
    assert n["sigmoid, Xavier init"]["ratio"] < 1e-9
    assert n["ReLU, Xavier init"]["ratio"] < 1e-2
    for name in ("ReLU, He init", "ReLU + residual, He init", "sigmoid + residual, Xavier"):
        assert 0.5 < n[name]["ratio"] < 2.0, name


def test_norms_statistics_and_padding(runs):
    n = runs["norms"].numbers
    assert n["bn_stats_shape"] == (4,)                  # one per feature
    assert n["ln_stats_shape"] == (2, 3, 1)             # one per token
    assert n["sample_stats_shape"] == (2, 1, 1)         # the notes' drawing: one per sentence
    changes = n["padding_changes"]
    assert changes["LayerNorm(d), per token"] < 1e-6
    assert changes["BatchNorm"] > 0.1 and changes["notes' per-sample version"] > 0.1
    assert n["train_vs_eval"]["LayerNorm"] == 0 and n["train_vs_eval"]["BatchNorm"] > 0.1


def test_symmetry(runs):
    n = runs["symmetry"].numbers
    assert n["same"]["max_unit_diff"] == 0.0 and n["zeros"]["max_unit_diff"] == 0.0
    assert n["same"]["final_loss"] > 0.2                     # one effective unit cannot fit XOR
    assert n["random"]["max_unit_diff"] > 0.1 and n["random"]["final_loss"] < 0.01


def test_masking_counts(runs):
    n = runs["masking"].numbers
    assert n["picked"] == pytest.approx(0.15, abs=0.005)
    assert n["mask"] == pytest.approx(0.8, abs=0.01)
    assert n["random"] == pytest.approx(0.1, abs=0.01) and n["kept"] == pytest.approx(0.1, abs=0.01)
    assert set(marks(runs["masking"]).values()) == {"✓"}


def test_schedule_covers_every_schedule(runs):
    run = runs["schedule"]
    assert set(run.numbers["curves"]) == set(SCHEDULES)
    for name in SCHEDULES:
        assert f"  {name} " in run.stdout
    at = dict(zip(run.numbers["steps"], run.numbers["curves"]["warmup_cosine"]))
    assert at[0] == pytest.approx(1e-5) and at[99] == pytest.approx(1e-3) and at[1100] == pytest.approx(1e-4)
    assert run.numbers["noam_peak"] == pytest.approx(512**-0.5 * 4000**-0.5, rel=1e-6)
    assert run.numbers["noam_peak_step"] == 3999


def test_patches_counts_the_notes_example_and_overlapping_strides(runs, capsys):
    numbers = runs["patches"].numbers                                     # 224², 16×16 RGB patches, stride 16
    assert (numbers["patch_dim"], numbers["n_patches"], numbers["seq_len"]) == (768, 196, 197)
    assert numbers["differs"] == [] and numbers["projection_diff"] < 1e-5 and numbers["shared"] == 0
    assert "16 × 16 × 3" in runs["patches"].stdout and "768" in runs["patches"].stdout
    assert main(["explain", "patches", "--image-size", "224", "--patch-size", "16", "--stride", "8"]) == 0
    assert "27 × 27 = 729 patches; with [CLS] a sequence of 730 tokens" in capsys.readouterr().out
    grey = explain.run_topic("patches", None, image_size=8, patch_size=4, stride=2, channels=1)
    assert (grey["per_side"], grey["patch_dim"]) == (3, 16) and grey["shared"] > 0.5
    gaps = explain.run_topic("patches", None, image_size=8, patch_size=2, stride=3, channels=1)
    assert gaps["per_side"] == 3 and gaps["unseen"] > 0                   # stride > patch: pixels no patch sees


@pytest.mark.parametrize("argv, needle", [(["--image-size", "8", "--patch-size", "2", "--stride", "9"],
                                           "stride 9 is larger than the image"),
                                          (["--image-size", "8", "--patch-size", "9"], "does not fit"),
                                          (["--image-size", "30", "--patch-size", "8"], "uncovered")])
def test_patches_refuses_a_grid_that_does_not_fit_in_one_line(cli_fails, argv, needle):
    cli_fails(["explain", "patches", *argv], needle)


def test_a_topic_without_options_refuses_them(cli_fails):
    cli_fails(["explain", "softmax", "--stride", "2"], "softmax takes no --stride (patches does)")

"""`lmlab train` when things go wrong outside lmlab: a kill at any write point, SIGTERM and Ctrl-C, a full
disk, a read-only --out, an unreadable weights file, absurd sizes and learning rates (issue 18: 3, 4, 6).

Kills are real process deaths at each write point (LMLAB_FAULT=kill:K in lmlab.io.atomic): a forked
`lmlab train gpt` for the sweep over every point, and one `python -m lmlab.cli` subprocess; SIGTERM is sent
to a subprocess. The full disk is a 2 MiB tmpfs (needs root; skipped otherwise).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from lmlab.cli import main
from lmlab.data.corpora import load_text
from lmlab.io.checkpoint import MANIFEST, load_train_state, saved_step
from lmlab.runs.run import Run

SRC = str(Path(__file__).resolve().parents[2] / "src")
TINY = ["--preset", "tiny", "--eval_batches", "1", "--batch_size", "2", "--log_every", "1", "--warmup_steps", "0", "--quiet"]

pytestmark = pytest.mark.usefixtures("short_samples")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "shakespeare.txt"
    path.write_text(load_text("tinyshakespeare")[:20_000], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def at_step_2(tmp_path_factory, corpus) -> Path:
    """A run with its checkpoint at step 2 (of 4), to continue in each test's copy."""
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", "gpt", "--data", str(corpus), *TINY, "--max_steps", "2", "--eval_every", "2",
                 "--out", str(out)]) == 0
    return out


@pytest.fixture
def run(at_step_2, tmp_path) -> Path:
    return Path(shutil.copytree(at_step_2, tmp_path / "run"))


RESUME_TO_4 = ["--resume", "--max_steps", "4", "--quiet"]


def resume_argv(run: Path) -> list[str]:
    return ["train", "gpt", "--out", str(run), *RESUME_TO_4]


def steps_logged(run: Path) -> list[int]:
    return [r["step"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "loss" in r]


def check_complete(run: Path) -> int:
    """The run holds one complete checkpoint, which readers load; its step."""
    step = saved_step(run)
    model = Run.open(run).model()
    assert Run.open(run).load_weights(model) == step == load_train_state(run)["step"]
    return step


def write_points(run: Path, run_in_child, capfd) -> list[str]:
    """Every write point of continuing `run` from step 2 to 4, in order (LMLAB_FAULT=list, on a copy)."""
    trial = Path(shutil.copytree(run, run.with_name("trial")))
    capfd.readouterr()
    assert run_in_child(lambda: main(resume_argv(trial)), {"LMLAB_FAULT": "list"}) == 0
    shutil.rmtree(trial)
    return re.findall(r"LMLAB_FAULT: write point \d+ \((.*)\)", capfd.readouterr().err)


# ---- 3: a kill at every write point --------------------------------------------------------------------
@pytest.mark.slow
def test_a_kill_at_every_write_point_then_resume(run, run_in_child, capfd, tmp_path):
    points = write_points(run, run_in_child, capfd)
    assert {"model.safetensors in place", "train_state.pt in place", f"{MANIFEST} renamed"} <= set(points)
    for k, what in enumerate(points, start=1):
        copy = Path(shutil.copytree(run, tmp_path / f"kill{k}"))
        argv = resume_argv(copy)
        assert run_in_child(lambda: main(argv), {"LMLAB_FAULT": f"kill:{k}"}) == 86, what  # noqa: B023
        done = points.index(f"{MANIFEST} renamed") + 1
        assert check_complete(copy) == (4 if k >= done else 2), what
        if k < done:
            assert main(resume_argv(copy)) == 0, what  # --resume finds the step-2 set, and finishes the run
        else:  # the step-4 set is whole: nothing is left to train, and --resume says so (exit 2), cleaning up
            assert main(resume_argv(copy)) == 2, what
        assert check_complete(copy) == 4 and steps_logged(copy)[-1] == 4, what
        assert not [p.name for p in copy.iterdir() if p.name.endswith((".tmp", ".prev"))], what
        shutil.rmtree(copy)


def test_a_killed_subprocess_between_the_two_renames(run, run_in_child, capfd):
    """The moment of the issue: new weights in place, the old training state still there."""
    points = write_points(run, run_in_child, capfd)
    k = points.index("model.safetensors in place") + 1
    env = {**os.environ, "PYTHONPATH": SRC, "LMLAB_FAULT": f"kill:{k}", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "lmlab.cli", *resume_argv(run)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 86, done.stderr
    assert (run / "model.safetensors.prev").is_file()           # the torn state the issue describes …
    assert check_complete(run) == 2                              # … still reads as the step-2 checkpoint
    assert main(resume_argv(run)) == 0
    assert check_complete(run) == 4 and steps_logged(run) == [1, 2, 3, 4]


# ---- 6: SIGTERM and Ctrl-C, honoured at the end of a step ------------------------------------------------
def test_sigterm_saves_a_checkpoint_and_resume_continues(corpus, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "lmlab.cli", "train", "gpt", "--data", str(corpus), *TINY,
                             "--max_steps", "100000", "--eval_every", "100000", "--out", str(out)],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not ((out / "metrics.jsonl").is_file() and (out / "metrics.jsonl").stat().st_size):
            assert proc.poll() is None and time.monotonic() < deadline, "training did not start"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    step = saved_step(out)
    assert proc.returncode == 2 and f"stopped by SIGTERM at step {step}; checkpoint saved" in err, err
    assert check_complete(out) == step >= 1
    assert main(["train", "gpt", "--out", str(out), "--resume", "--max_steps", str(step + 2), "--quiet"]) == 0
    assert steps_logged(out) == list(range(1, step + 3))


def test_ctrl_c_is_honoured_at_the_end_of_the_step(corpus, tmp_path, cli_fails):
    from lmlab.data.lm_config import LMDataConfig
    from lmlab.errors import LmlabError
    from lmlab.models.gpt import preset
    from lmlab.recipes.pretrain_gpt import pretrain_gpt
    from lmlab.train.config import TrainConfig

    cfg = TrainConfig(max_steps=50, batch_size=2, eval_every=50, eval_batches=1, log_every=1)
    presses = {3: 1, 5: 2}  # one Ctrl-C during step 3: it ends, is saved, training stops

    def press(step):
        for _ in range(presses.get(step, 0)):
            os.kill(os.getpid(), signal.SIGINT)
    with pytest.raises(LmlabError, match="stopped by SIGINT at step 3; checkpoint saved"):
        pretrain_gpt(str(corpus), preset("tiny"), cfg, LMDataConfig(), tmp_path / "run", quiet=True, on_step_end=press)
    assert check_complete(tmp_path / "run") == 3
    # two presses: the second stops at once, without a checkpoint of a half-done step
    with pytest.raises(LmlabError, match="interrupted twice .*the step-3 checkpoint is the last"):
        pretrain_gpt(None, None, cfg, None, tmp_path / "run", resume=True, quiet=True, on_step_end=press)
    assert check_complete(tmp_path / "run") == 3


# ---- 4: a full disk, a read-only --out, an unreadable file, nan and inf ---------------------------------
def test_a_full_disk_says_so_and_keeps_the_last_checkpoint(corpus, tmpfs, cli_fails):
    disk = tmpfs("2m")   # one checkpoint of the tiny model (1.3 MiB) fits, a second beside it does not
    out = disk / "run"
    line = cli_fails(["train", "gpt", "--data", str(corpus), *TINY, "--max_steps", "4", "--eval_every", "2",
                      "--out", str(out)], "cannot save the step-4 checkpoint: no space left on the device holding",
                     "the step-2 checkpoint is untouched")
    assert "inline_container" not in line and "unexpected pos" not in line
    assert check_complete(out) == 2
    assert not [p.name for p in out.iterdir() if p.name.endswith((".tmp", ".prev"))]
    subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True)
    assert main(["train", "gpt", "--out", str(out), *RESUME_TO_4]) == 0
    assert check_complete(out) == 4


def test_a_read_only_out(corpus, tmp_path, tmpfs, cli_fails):
    if os.geteuid() == 0:
        ro = tmpfs("1m")
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        why = "read-only filesystem"
    else:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        why = "permission denied"
    cli_fails(["train", "gpt", "--data", str(corpus), *TINY, "--max_steps", "2", "--out", str(ro / "run")],
              f"cannot write the run to {ro / 'run'}", why, "choose another --out")


def test_an_unreadable_weights_file_is_not_called_corrupt(at_step_2, cli_fails):
    folder = Path(tempfile.mkdtemp(prefix="lmlab-unreadable-"))   # under /tmp, so another user can enter it
    try:
        folder.chmod(0o755)
        run = Path(shutil.copytree(at_step_2, folder / "run"))
        (run / "model.safetensors").chmod(0o000)
        if os.geteuid() == 0:  # root reads everything: read as nobody
            os.seteuid(65534)
        try:
            line = cli_fails(["generate", str(run), "--prompt", "RO", "--max-new-tokens", "2"],
                             f"cannot read {run / 'model.safetensors'}: Permission denied")
        finally:
            if os.getuid() == 0:
                os.seteuid(0)
        assert "corrupt" not in line
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_learning_rate_that_is_not_a_number(corpus, tmp_path, cli_fails, value):
    cli_fails(["train", "gpt", "--data", str(corpus), *TINY, "--lr", value, "--out", str(tmp_path / "run")],
              f"lr must be a finite number, got {value}")
    assert not (tmp_path / "run").exists()


def test_divergence_before_any_checkpoint_does_not_claim_one(corpus, tmp_path, cli_fails):
    cli_fails(["train", "gpt", "--data", str(corpus), *TINY, "--lr", "1e30", "--warmup_steps", "0", "--grad_clip",
               "0", "--max_steps", "30", "--eval_every", "100", "--out", str(tmp_path / "run")],
              "diverged", "no checkpoint was saved")


# ---- 6: absurd sizes are refused (or announced) before anything is read or built -------------------------
@pytest.mark.parametrize("tuned", [False, True], ids=["autotune-off", "autotune-on"])
@pytest.mark.parametrize("flag, value", [("--d_model", "10000000"), ("--d_model", "100000"),
                                         ("--batch_size", "100000000")])
def test_a_step_that_cannot_fit_is_refused_first(tmp_path, cli_fails, request, flag, value, tuned):
    """The data file does not exist: the refusal comes before the data is read, let alone the model built.
    With kernel autotuning on (as users have it), the estimate times no kernel: timing one would build the
    absurd layer's tensors (it once ended in a raw allocator error, "you tried to allocate 160000000000 bytes")."""
    cache = request.getfixturevalue("autotune_cache") if tuned else None
    line = cli_fails(["train", "gpt", "--data", str(tmp_path / "absent.txt"), "--preset", "tiny", flag, value,
                      "--out", str(tmp_path / "run")], "one training step needs about", "available")
    assert re.search(r"needs about [\d,.]+ [PTG]iB", line)
    assert cache is None or not cache.exists()   # nothing was measured


def test_a_step_of_minutes_is_announced_first(tmp_path, capsys):
    assert main(["train", "gpt", "--data", str(tmp_path / "absent.txt"), "--preset", "tiny", "--max_seq_len",
                 "100000", "--device", "cpu", "--out", str(tmp_path / "run")]) == 2
    warning, error = capsys.readouterr().err.strip().splitlines()
    assert warning.startswith("warning: one training step (") and "FLOPs: at least" in warning, warning
    assert error.startswith("error:") and "absent.txt" in error

"""The run folder's rules: a new run never lands on files it would lose, --resume needs a run, and a run
that fails before its first checkpoint leaves --out exactly as it found it."""

from __future__ import annotations

import subprocess

import pytest

from lmlab.errors import LmlabError
from lmlab.io.checkpoint import CONFIG_FILE, MODEL_FILE
from lmlab.runs.directory import check_run_dir, prepare_run_dir, restore_on_failure


def a_run(path):
    path.mkdir(parents=True)
    (path / CONFIG_FILE).write_text('{"family": "gpt"}')
    (path / MODEL_FILE).write_bytes(b"old weights")
    return path


def test_a_new_run_may_go_into_a_missing_or_empty_folder(tmp_path):
    assert prepare_run_dir(tmp_path / "new", resume=False, overwrite=False).is_dir()
    (tmp_path / "empty").mkdir()
    assert check_run_dir(tmp_path / "empty", resume=False, overwrite=False) is False


@pytest.mark.parametrize("resume, overwrite, holds, message", [
    (True, True, "run", "contradict each other"),
    (True, False, "nothing", "not an lmlab run directory"),
    (False, False, "run", "already exists and is not empty"),
    (False, True, "other", "it is not an lmlab run directory"),
])
def test_what_is_refused(tmp_path, resume, overwrite, holds, message):
    out = tmp_path / "out"
    if holds == "run":
        a_run(out)
    elif holds == "other":
        out.mkdir()
        (out / "thesis.tex").write_text("years of work")
    with pytest.raises(LmlabError, match=message):
        prepare_run_dir(out, resume=resume, overwrite=overwrite)
    if holds == "other":
        assert (out / "thesis.tex").read_text() == "years of work"


def test_overwrite_replaces_a_run(tmp_path):
    out = a_run(tmp_path / "out")
    prepare_run_dir(out, resume=False, overwrite=True)
    assert list(out.iterdir()) == []


def test_a_failed_new_run_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), restore_on_failure(out, resume=False, overwrite=False):
        prepare_run_dir(out, resume=False, overwrite=False)
        (out / "tokenizer.json").write_text("{}")
        raise RuntimeError("bad data")
    assert not out.exists()


def test_a_failed_overwrite_gives_the_old_run_back(tmp_path):
    out = a_run(tmp_path / "out")
    with pytest.raises(KeyboardInterrupt), restore_on_failure(out, resume=False, overwrite=True):
        prepare_run_dir(out, resume=False, overwrite=False)  # the old run was moved aside
        (out / CONFIG_FILE).write_text('{"family": "gpt", "new": true}')
        raise KeyboardInterrupt
    assert (out / MODEL_FILE).read_bytes() == b"old weights"
    assert (out / CONFIG_FILE).read_text() == '{"family": "gpt"}'
    assert not (tmp_path / ".out.replaced").exists()


def test_a_failed_resume_gets_its_config_back(tmp_path):
    out = a_run(tmp_path / "out")
    with pytest.raises(RuntimeError), restore_on_failure(out, resume=True, overwrite=False):
        (out / CONFIG_FILE).write_text('{"family": "gpt", "train": {"max_steps": 9}}')
        raise RuntimeError("diverged")
    assert (out / CONFIG_FILE).read_text() == '{"family": "gpt"}'


def test_a_run_that_saved_a_checkpoint_keeps_it_when_it_fails_later(tmp_path):
    out = a_run(tmp_path / "out")
    with pytest.raises(RuntimeError), restore_on_failure(out, resume=False, overwrite=True):
        prepare_run_dir(out, resume=False, overwrite=False)
        (out / CONFIG_FILE).write_text('{"family": "gpt", "new": true}')
        (out / MODEL_FILE).write_bytes(b"new weights")
        raise RuntimeError("crashed at step 900")
    assert (out / MODEL_FILE).read_bytes() == b"new weights"
    assert not (tmp_path / ".out.replaced").exists()


def test_a_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path, tmpfs):
    disk = tmpfs("64k")
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    with pytest.raises(LmlabError, match=r"cannot write the run to .*new: it is on a read-only filesystem .*is not "
                                         r"writable\); choose another --out"):
        check_run_dir(disk / "new", resume=False, overwrite=False)

"""`lmlab train item2vec` on a small package index, and on the real one (slow) for named neighbours."""

import json
from pathlib import Path

import pytest

from lmlab.cli import main

SAMPLE = Path(__file__).parents[1] / "data" / "debian_12_packages.jsonl"
DEBIAN = Path("/work/shared/data/debian/packages.jsonl")


def test_train_and_query(tmp_path, capsys, cli_fails):
    """12 baskets, 31 items: default sub-sampling (1e-3 of 31) would keep almost none, so --sample 0."""
    out = tmp_path / "run"
    assert main(["train", "item2vec", "--data", str(SAMPLE), "--min_count", "1", "--sample", "0", "--epochs", "10",
                 "--lr", "0.2", "--dim", "8", "--quiet", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["virtual_resolved"] == 4 and metrics["no_dependencies"] == 2
    loss = metrics["epoch_loss"]
    assert metrics["pairs"] > 0 and loss[-1] < 0.8 * loss[0], loss   # it learns: 3.67 -> 2.34 when written
    assert json.loads((out / "sections.json").read_text())["python3-numpy"] == "python"
    capsys.readouterr()
    assert main(["similar", str(out), "python3-numpy", "--topn", "3"]) == 0
    assert "python3" in capsys.readouterr().out
    cli_fails(["train", "item2vec", "--data", str(SAMPLE), "--arch", "cbow", "--out", str(tmp_path / "c")], "cbow")


def test_a_bad_line_is_refused_or_skipped_and_reported_even_quiet(tmp_path, capsys, cli_fails):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(SAMPLE.read_text() + "{oops\n")
    cli_fails(["train", "item2vec", "--data", str(bad), "--out", str(tmp_path / "b")], f"{bad}:13: not a JSON object",
              "--skip-bad")
    assert not (tmp_path / "b").exists()
    assert main(["train", "item2vec", "--data", str(bad), "--min_count", "1", "--epochs", "1", "--dim", "8",
                 "--quiet", "--skip-bad", "--out", str(tmp_path / "b")]) == 0
    assert f"skipped 1 bad row(s) of {bad}, kept 12 package records" in capsys.readouterr().err
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["bad_lines"] == 1


@pytest.mark.slow
@pytest.mark.skipif(not DEBIAN.is_file(), reason="needs /work/shared/data/debian/packages.jsonl")
def test_named_neighbours_on_the_real_index(tmp_path):
    """From a run (seed 1, 5 epochs): python3-matplotlib, python3-scipy, python3-pandas, cython3 among the ten
    nearest of python3-numpy; asserted loosely: at least three scientific python3 packages."""
    from lmlab.tools.word_vectors import open_vectors
    out = tmp_path / "run"
    assert main(["train", "item2vec", "--data", str(DEBIAN), "--epochs", "5", "--quiet", "--out", str(out)]) == 0
    near = {w for w, _ in open_vectors(out).similar("python3-numpy", 10)}
    science = {"python3-scipy", "python3-matplotlib", "python3-pandas", "python3-sklearn", "python3-h5py",
               "python3-numexpr", "python3-sympy", "python3-skimage", "python3-astropy", "python3-mpi4py", "cython3"}
    assert len(near & science) >= 3, near

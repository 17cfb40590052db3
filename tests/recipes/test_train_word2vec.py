"""`lmlab train word2vec` end to end on a small real text, the query commands, and bad input."""

import numpy as np
import pytest

from lmlab.cli import main
from lmlab.io.word2vec_format import load_word2vec

ARGS = ["--min_count", "2", "--epochs", "4", "--lr", "0.05", "--dim", "16", "--batch_size", "64", "--quiet"]


@pytest.fixture(scope="module")
def w2v_run(tmp_path_factory, shakespeare_small):
    out = tmp_path_factory.mktemp("w2v") / "run"
    assert main(["train", "word2vec", "--data", str(shakespeare_small), *ARGS, "--out", str(out)]) == 0
    return out


def test_run_folder_and_loss_falls(w2v_run):
    import json
    metrics = json.loads((w2v_run / "metrics.json").read_text())
    assert metrics["epoch_loss"][-1] < metrics["epoch_loss"][0]
    words = (w2v_run / "vocab.txt").read_text().split("\n")
    assert words[0].split()[0] in ("the", "I", "to", "and", ",")  # most frequent first
    assert metrics["vocab_size"] == len([w for w in words if w])
    assert json.loads((w2v_run / "config.json").read_text())["train"]["engine"] == "numba"  # which engine ran


@pytest.mark.parametrize("arch,loss", [("cbow", "neg"), ("skipgram", "hs")])
def test_other_objectives_train(tmp_path, shakespeare_small, arch, loss):
    out = tmp_path / "run"
    assert main(["train", "word2vec", "--data", str(shakespeare_small), *ARGS, "--arch", arch, "--loss", loss,
                 "--epochs", "1", "--out", str(out)]) == 0
    assert (out / "model.safetensors").is_file()


def test_a_folder_of_text_files_is_one_corpus(tmp_path, shakespeare_small):
    """--data FOLDER reads its text files (sub-folders too, in name order) as one corpus: the vocabulary and
    word count of the files concatenated."""
    import json
    lines = shakespeare_small.read_text(encoding="utf-8").splitlines(keepends=True)
    half = len(lines) // 2
    (tmp_path / "texts" / "more").mkdir(parents=True)
    (tmp_path / "texts" / "a.txt").write_text("".join(lines[:half]), encoding="utf-8")
    (tmp_path / "texts" / "more" / "b.txt").write_text("".join(lines[half:]), encoding="utf-8")
    quick = [*ARGS, "--epochs", "1", "--dim", "8"]
    assert main(["train", "word2vec", "--data", str(tmp_path / "texts"), *quick, "--out", str(tmp_path / "dir")]) == 0
    assert main(["train", "word2vec", "--data", str(shakespeare_small), *quick, "--out", str(tmp_path / "one")]) == 0
    runs = [tmp_path / "dir", tmp_path / "one"]
    vocabs = [sorted((run / "vocab.txt").read_text().splitlines()) for run in runs]
    words = [json.loads((run / "metrics.json").read_text())["corpus_words"] for run in runs]
    assert vocabs[0] == vocabs[1] and words[0] == words[1] > 1000


def test_window_and_negative_flags(w2v_run, tmp_path, shakespeare_small):
    """--window and --negative reach the model's config; a window of 1 gives at most 2 (centre, context) pairs a
    word, fewer than the fixture's 5 (seen: 1.36 against 2.56; Shakespeare's short lines clip the windows)."""
    import json

    from lmlab.runs.run import Run
    out = tmp_path / "run"
    assert main(["train", "word2vec", "--data", str(shakespeare_small), *ARGS, "--window", "1", "--negative", "2",
                 "--out", str(out)]) == 0
    cfg = Run.open(out).model().cfg
    assert (cfg.window, cfg.negative) == (1, 2)
    per_word = [(m := json.loads((run / "metrics.json").read_text()))["pairs"] / m["words"] for run in (out, w2v_run)]
    assert per_word[0] <= 2 and per_word[0] < 0.7 * per_word[1], per_word


def test_similar_analogy_export(w2v_run, tmp_path, capsys):
    assert main(["similar", str(w2v_run), "Rome", "--topn", "3"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 4
    assert main(["analogy", str(w2v_run), "man", "noble", "gods"]) == 0
    out = capsys.readouterr().out
    assert "3CosAdd" in out and "3CosMul" in out
    for binary in ([], ["--binary"]):
        path = tmp_path / f"v{len(binary)}"
        assert main(["vectors", "export", str(w2v_run), "--out", str(path), *binary]) == 0
        words, vectors = load_word2vec(path)
        assert vectors.shape == (len(words), 16) and np.isfinite(vectors).all()
    assert main(["similar", str(path), "good"]) == 0  # a vectors file works as well as a run


def test_bad_input_is_one_line(w2v_run, tmp_path, cli_fails):
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n\n")
    cli_fails(["train", "word2vec", "--data", str(empty), "--out", str(tmp_path / "a")], "empty")
    rare = tmp_path / "rare.txt"
    rare.write_text("one two three\n")
    cli_fails(["train", "word2vec", "--data", str(rare), "--out", str(tmp_path / "b")], "min_count=5")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    cli_fails(["similar", str(w2v_run), "Romee"], "'Romee' is not in the vocabulary", "Rome")
    cli_fails(["train", "word2vec", "--out", str(w2v_run), "--resume"], "trained all its 4 epochs", "--epochs")
    cli_fails(["train", "word2vec", "--out", str(w2v_run), "--resume", "--epochs", "5", "--engine", "torch"],
              "only --engine numba")
    export = tmp_path / "v.txt"
    export.write_text("keep me")
    cli_fails(["vectors", "export", str(w2v_run), "--out", str(export)], "already exists")
    assert export.read_text() == "keep me"
    (tmp_path / "cut.bin").write_bytes(b"10 16\nthe " + b"\0" * 30)
    cli_fails(["similar", str(tmp_path / "cut.bin"), "the"], "truncated")


def test_resume_continues_exactly(tmp_path, shakespeare_small):
    """One thread: a run stopped by the clock after its first job, then --resume'd, ends with the very weights
    and losses of the run in one go (the saved state holds the epoch, the job, the thread's generator and the
    words done, which set the rate)."""
    import json

    from lmlab.io.checkpoint import load_train_state
    from lmlab.runs.run import Run
    args = ["train", "word2vec", "--data", str(shakespeare_small), "--min_count", "2", "--dim", "8", "--workers", "1",
            "--epochs", "3", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "straight")]) == 0
    assert main([*args, "--time_budget", "0", "--out", str(tmp_path / "split")]) == 0
    stopped = load_train_state(tmp_path / "split")
    assert (stopped["epoch"], stopped["job"]) in ((0, 1), (1, 0))
    assert main(["train", "word2vec", "--out", str(tmp_path / "split"), "--resume", "--time_budget", "1e6",
                 "--quiet"]) == 0
    assert load_train_state(tmp_path / "split")["epoch"] == 3
    weights = [Run.open(tmp_path / name).model().in_emb.numpy() for name in ("straight", "split")]
    np.testing.assert_array_equal(weights[0], weights[1])
    losses = [json.loads((tmp_path / name / "metrics.json").read_text())["epoch_loss"] for name in ("straight", "split")]
    assert losses[0] == losses[1] and len(losses[0]) == 3

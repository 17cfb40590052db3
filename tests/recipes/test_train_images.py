"""`lmlab train cnn` on digits (a few dozen steps, loss falling), `lmlab classify`, export to Hugging Face and
transformers' pipeline("image-classification") giving classify's top class; bad input refused cleanly."""

from __future__ import annotations

import json

import pytest

from lmlab.cli import main
from lmlab.data.images import digits_images

TINY = ["--stem", "imagenet", "--stem_channels", "8", "--channels", "[8,16]", "--layers", "[1,1]",
        "--max_steps", "40", "--eval_every", "20", "--batch_size", "32", "--warmup_steps", "5", "--log_every", "5"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    assert main(["train", "cnn", "--data", "digits", "--out", str(out), "--quiet", *TINY]) == 0
    return out


@pytest.fixture(scope="module")
def pngs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pngs")
    paths = []
    for y, img, _ in digits_images()[:6]:
        img.save(folder / f"digit{y}.png")
        paths.append(folder / f"digit{y}.png")
    return paths


def test_training_writes_a_run_and_loss_falls(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert losses[-1] < losses[0] - 0.25
    results = json.loads((run / "results.json").read_text())
    assert results["n_test"] == 269 and results["test_accuracy"] > 0.2
    for name in ("model.safetensors", "confusion.png", "filters.png", "feature_maps.png", "loss.png"):
        assert (run / name).is_file()
    meta = json.loads((run / "config.json").read_text())
    assert meta["labels"] == [str(i) for i in range(10)] and meta["data"]["input_size"] == 8


def test_classify_prints_top_k(run, pngs, capsys):
    assert main(["classify", str(run), *map(str, pngs[:2]), "--top-k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 2 and all(len(r["top"]) == 3 for r in out)
    assert abs(sum(p for _, p in out[0]["top"])) <= 1.0 + 1e-6


def pipeline_agrees_with_classify(run, pngs, out, capsys) -> None:
    """Export `run` to `out`; transformers' pipeline("image-classification") gives classify's top class and
    probability on every image."""
    from transformers import pipeline
    assert main(["hf", "export", str(run), "--out", str(out)]) == 0
    assert (out / "preprocessor_config.json").is_file()
    capsys.readouterr()
    assert main(["classify", str(run), *map(str, pngs), "--json", "--top-k", "1"]) == 0
    ours = [r["top"][0] for r in json.loads(capsys.readouterr().out)]
    pipe = pipeline("image-classification", model=str(out), device="cpu")
    for path, (label, p) in zip(pngs, ours):
        top = pipe(str(path), top_k=1)[0]
        assert top["label"] == label and abs(top["score"] - p) < 1e-4


def test_pipeline_on_export_agrees_with_classify(run, pngs, tmp_path, capsys):
    pipeline_agrees_with_classify(run, pngs, tmp_path / "hf", capsys)


def test_resume_and_init(run, tmp_path):
    assert main(["train", "cnn", "--out", str(run), "--resume", "--max_steps", "45", "--quiet"]) == 0
    assert main(["train", "cnn", "--data", "digits", "--init", str(run), "--max_steps", "5", "--eval_every", "5",
                 "--batch_size", "16", "--quiet", "--out", str(tmp_path / "ft")]) == 0
    assert json.loads((tmp_path / "ft" / "config.json").read_text())["model"]["channels"] == [8, 16]


def test_bad_input(run, tmp_path, cli_fails):
    cli_fails(["train", "cnn", "--data", "digits", "--out", str(run), *TINY], "exists")  # never overwritten
    folder = tmp_path / "imgs"
    (folder / "a").mkdir(parents=True)
    (folder / "b").mkdir()
    digits_images()[0][1].save(folder / "b" / "ok.png")
    (folder / "a" / "x.png").write_text("no")
    cli_fails(["train", "cnn", "--data", str(folder), "--out", str(tmp_path / "r")], "x.png: not an image")
    assert not (tmp_path / "r").exists()
    cli_fails(["classify", str(run), str(folder / "a" / "x.png")], "x.png: not an image")
    (folder / "a" / "x.png").unlink()
    cli_fails(["train", "cnn", "--data", str(folder), "--out", str(tmp_path / "r")], "'a' holds no images")


# ---- ViT: the same recipe, another family -----------------------------------------------------------------
VIT_TINY = ["--d_model", "32", "--n_heads", "2", "--n_layers", "2", "--d_ff", "64", "--max_steps", "40",
            "--eval_every", "20", "--batch_size", "32", "--warmup_steps", "5", "--log_every", "5"]


def test_vit_trains_on_digits_with_overlapping_patches_and_draws_its_rollout(tmp_path, capsys):
    """`lmlab train vit --data digits --preset vit-digits`, 4×4 patches every 2 pixels (3×3 = 9, overlapping):
    the loss falls over 40 steps, the run holds rollout.png, and export refuses the overlapping stride."""
    out = tmp_path / "vit"
    assert main(["train", "vit", "--data", "digits", "--preset", "vit-digits", "--patch_size", "4", "--stride", "2",
                 "--out", str(out), "--quiet", *VIT_TINY]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert losses[-1] < losses[0] - 0.25
    meta = json.loads((out / "config.json").read_text())
    assert meta["family"] == "vit" and meta["model"]["stride"] == 2 and meta["model"]["n_classes"] == 10
    assert (out / "rollout.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "results.json").read_text())["test_accuracy"] > 0.2
    capsys.readouterr()
    assert main(["hf", "export", str(out), "--out", str(tmp_path / "hf")]) == 2
    assert "stride 2 ≠ patch_size 4" in capsys.readouterr().err and not (tmp_path / "hf").exists()


@pytest.fixture(scope="module")
def vit_run(tmp_path_factory):
    """vit-digits as it comes (2×2 patches, stride 2 = the patch: 4×4 = 16, [CLS] head), tiny, 40 steps."""
    out = tmp_path_factory.mktemp("runs") / "vit"
    assert main(["train", "vit", "--data", "digits", "--out", str(out), "--quiet", *VIT_TINY]) == 0
    return out


def test_vit_pipeline_on_export_agrees_with_classify(vit_run, pngs, tmp_path, capsys):
    """A grey ViT whose stride is its patch size exports (as its RGB twin) and the pipeline agrees."""
    pipeline_agrees_with_classify(vit_run, pngs, tmp_path / "hf", capsys)
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["num_channels"] == 3


def test_vit_init_from_an_earlier_run(vit_run, tmp_path, capsys):
    """--init takes the run's shape (not vit-digits' own) and its weights: after one step at lr 1e-9 they are
    the run's. The start prints the patches, as `lmlab info` does."""
    from lmlab.runs.run import Run
    out = tmp_path / "again"
    assert main(["train", "vit", "--data", "digits", "--init", str(vit_run), "--max_steps", "1", "--eval_every", "1",
                 "--lr", "1e-9", "--min_lr", "0", "--warmup_steps", "0", "--batch_size", "8", "--out", str(out)]) == 0
    assert "n_patches 16 (4×4, stride 2); sequence 17 with [CLS]" in capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["model"]["d_model"] == 32
    before, after = Run.open(vit_run).model().state_dict(), Run.open(out).model().state_dict()
    assert before.keys() == after.keys()
    assert max((before[k] - after[k]).abs().max().item() for k in before) < 1e-6


def test_vit_init_from_a_hugging_face_import(tmp_path, capsys):
    """A HF ViT (RGB, 8×8 images, 2×2 patches, 3 labels) imported, then trained on digits at 16×16: digits are
    read as RGB, the encoder's weights load (the positions resized to the 8×8 grid) and the 10-class classifier
    starts fresh."""
    from transformers import ViTConfig, ViTForImageClassification
    ViTForImageClassification(ViTConfig(image_size=8, patch_size=2, hidden_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, intermediate_size=64, num_labels=3)
                              ).save_pretrained(tmp_path / "hf")
    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "imported")]) == 0
    capsys.readouterr()
    assert main(["train", "vit", "--data", "digits", "--init", str(tmp_path / "imported"), "--input_size", "16",
                 "--max_steps", "3", "--eval_every", "3", "--batch_size", "16", "--out", str(tmp_path / "ft")]) == 0
    printed = capsys.readouterr().out
    assert "2 start fresh (classifier.bias, classifier.weight)" in printed and "n_patches 64 (8×8, stride 2)" in printed
    meta = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert (meta["model"]["n_classes"], meta["model"]["n_channels"], meta["data"]["mode"]) == (10, 3, "RGB")
    assert meta["model"]["image_size"] == meta["data"]["input_size"] == 16


def test_init_from_a_hugging_face_import(tmp_path):
    """A HF ResNet (RGB, 3 labels) imported, then fine-tuned on digits at 16×16: a fresh 10-class head."""
    from transformers import ResNetConfig, ResNetForImageClassification
    ResNetForImageClassification(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                                              layer_type="basic", num_labels=3)).save_pretrained(tmp_path / "hf")
    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "imported")]) == 0
    assert main(["train", "cnn", "--data", "digits", "--init", str(tmp_path / "imported"), "--input_size", "16",
                 "--max_steps", "3", "--eval_every", "3", "--batch_size", "16", "--quiet",
                 "--out", str(tmp_path / "ft")]) == 0
    meta = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert (meta["model"]["n_classes"], meta["model"]["in_channels"], meta["data"]["mode"]) == (10, 3, "RGB")


def test_train_on_a_folder_of_rgb_images(tmp_path, capsys):
    from PIL import Image
    for cls, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220))):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(8):
            Image.new("RGB", (20 + i, 14), colour).save(tmp_path / "imgs" / cls / f"{i}.jpg")
    assert main(["train", "cnn", "--data", str(tmp_path / "imgs"), "--preset", "resnet-small", "--channels", "[8]",
                 "--layers", "[1]", "--stem_channels", "8", "--flip", "true", "--max_steps", "4", "--eval_every", "4",
                 "--batch_size", "8", "--quiet", "--out", str(tmp_path / "run")]) == 0
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    assert meta["labels"] == ["blue", "red"] and meta["data"]["input_size"] == 32 and meta["data"]["mode"] == "RGB"
    capsys.readouterr()
    assert main(["classify", str(tmp_path / "run"), str(tmp_path / "imgs" / "red" / "0.jpg"), "--top-k", "1"]) == 0
    assert capsys.readouterr().out.startswith(str(tmp_path / "imgs" / "red" / "0.jpg"))

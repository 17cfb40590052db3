"""Image data: the digits split, image folders (and their bad files), Preprocessing, augmentation, batches."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from lmlab.data.images import (
    ImageBatches,
    ImageDataConfig,
    Preprocessing,
    augment,
    load_images,
    split_images,
)
from lmlab.errors import LmlabError

GREY8 = Preprocessing(8, 1)



@pytest.fixture(scope="module")
def digits():
    return load_images("digits", GREY8)


def test_digits_are_the_real_1797(digits):
    assert digits.pixels.shape == (1797, 1, 8, 8) and digits.classes == [str(i) for i in range(10)]
    assert 0.0 <= digits.pixels.min() and digits.pixels.max() <= 1.0
    assert torch.bincount(digits.labels).tolist()[:3] == [178, 182, 177]


def test_split_is_fixed_stratified_and_disjoint(digits):
    cfg = ImageDataConfig()
    train, val, test = split_images(digits, cfg)
    again = split_images(digits, cfg)
    assert (len(train.labels), len(val.labels), len(test.labels)) == (1259, 269, 269)
    assert train.names == again[0].names
    assert not set(train.names) & set(test.names) and not set(val.names) & set(test.names)
    assert torch.bincount(test.labels, minlength=10).min() >= 26  # every class ~15 %


def test_train_fraction_keeps_a_nested_per_class_share_and_the_same_val_and_test(digits):
    full, val, test = split_images(digits, ImageDataConfig())
    parts = {f: split_images(digits, ImageDataConfig(train_fraction=f)) for f in (0.1, 0.25, 0.5)}
    assert [len(parts[f][0].labels) for f in (0.1, 0.25, 0.5)] == [126, 315, 630]
    assert set(parts[0.1][0].names) < set(parts[0.25][0].names) < set(parts[0.5][0].names) < set(full.names)
    assert all(parts[f][1].names == val.names and parts[f][2].names == test.names for f in parts)
    counts = torch.bincount(parts[0.1][0].labels, minlength=10)
    assert counts.min() >= 12 and counts.max() <= 14  # stratified: ~10 % of each class's ~126
    with pytest.raises(ValueError, match="train_fraction"):
        ImageDataConfig(train_fraction=0)


def write_folder(root, bad: str | None = None):
    for cls, colour in (("cat", (200, 10, 10)), ("dog", (10, 10, 200))):
        (root / cls).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (12 + i, 10), colour).save(root / cls / f"{i}.png")
    if bad == "text":
        (root / "cat" / "notes.txt").write_text("not an image")
    elif bad == "corrupt":
        (root / "dog" / "broken.png").write_bytes(Image.new("RGB", (9, 9)).tobytes()[:20] + b"\x89PNG")
    elif bad == "empty":
        (root / "bird").mkdir()
    return root


def test_folder_is_resized_and_converted(tmp_path):
    data = load_images(str(write_folder(tmp_path / "imgs")), Preprocessing(6, 3))
    assert data.classes == ["cat", "dog"] and data.pixels.shape == (8, 3, 6, 6)
    assert data.pixels[data.labels == 0][:, 0].mean() > 0.7  # cats are red


@pytest.mark.parametrize("bad,needle", [("text", "notes.txt: not an image"), ("corrupt", "broken.png"),
                                        ("empty", "bird")])
def test_bad_folders_are_refused_by_name(tmp_path, bad, needle):
    root = write_folder(tmp_path / "imgs", bad)
    with pytest.raises(LmlabError, match=needle):
        load_images(str(root), Preprocessing(6, 3))


def test_skip_bad_counts(tmp_path):
    data = load_images(str(write_folder(tmp_path / "imgs", "text")), Preprocessing(6, 3), skip_bad=True)
    assert data.skipped == 1 and len(data.labels) == 8


def test_resize_false_refuses_other_sizes_and_channels(tmp_path):
    with pytest.raises(LmlabError, match=r"12×10 image with 3 channel"):
        load_images(str(write_folder(tmp_path / "imgs")), Preprocessing(6, 1, resize=False))


def test_preprocessing_is_hf_image_processor():
    """The exported preprocessor_config.json makes Hugging Face read an image as lmlab does."""
    from transformers import ViTImageProcessor
    prep = Preprocessing(7, 3, mean=0.4, std=0.3)
    image = Image.fromarray(torch.randint(0, 256, (13, 11, 3), dtype=torch.uint8).numpy())
    hf = ViTImageProcessor(**{k: v for k, v in prep.hf_processor().items() if k != "image_processor_type"})
    want = torch.as_tensor(hf(image, return_tensors="pt")["pixel_values"][0])
    assert (prep(image) - want).abs().max() < 1e-5


def test_augment_shifts_without_flipping():
    x = torch.zeros(64, 1, 5, 5)
    x[:, :, 2, 2] = 1.0
    out = augment(x, shift=1, flip=False, gen=torch.Generator().manual_seed(0))
    where = {tuple((o[0] == 1).nonzero()[0].tolist()) for o in out}
    assert where <= {(r, c) for r in (1, 2, 3) for c in (1, 2, 3)} and len(where) > 4
    assert out.sum() == 64  # moved, never lost or mirrored into two


def test_batches_resume_exactly(digits):
    cfg = ImageDataConfig()
    a = ImageBatches(digits, 32, GREY8, cfg, seed=3)
    for _ in range(50):  # across an epoch boundary
        a.next()
    state = a.state_dict()
    b = ImageBatches(digits, 32, GREY8, cfg, seed=99)
    b.load_state_dict(state)
    x, y = a.next(), b.next()
    assert torch.equal(x["pixel_values"], y["pixel_values"]) and torch.equal(x["labels"], y["labels"])


def test_flips_mirror_about_half():
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(200, 1, 1, 1)
    out = augment(x, shift=0, flip=True, gen=torch.Generator().manual_seed(0))
    mirrored = (out == x.flip(-1)).flatten(1).all(1)
    assert ((out == x).flatten(1).all(1) | mirrored).all() and 60 < int(mirrored.sum()) < 140

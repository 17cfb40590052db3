"""Image classification data: scikit-learn's digits or a folder of class folders, one preprocessing, augmentation.

Sources:
- "digits": the 1,797 real 8×8 grey handwritten digits bundled with scikit-learn (Alpaydin & Kaynak 1998,
  UCI "optdigits"; values 0…16), turned into 8-bit grey images (v·255/16) and read like any other image;
- a folder laid out as FOLDER/CLASS_NAME/*.png|jpg|…: the class names are the sorted sub-folder names,
  images are read with Pillow. A file that is not an image, a corrupt one, a class folder with no
  image: one error line naming it (`--skip_bad true` skips the unreadable files and counts them).
Every image, training or `lmlab classify`'s, goes through the same `Preprocessing`: converted to the
model's channels (Pillow mode L or RGB), resized to image_size × image_size (bilinear; with resize false
an image of another size or channel count is refused instead), scaled to [0, 1], normalised
(x − mean) / std. The settings live in config.json's data section and go out as Hugging Face's
preprocessor_config.json (ViTImageProcessor: resize, rescale 1/255, normalise), so a pipeline reads an
image as lmlab does. The split is stratified and seeded (lmlab.data.classification.split_examples).
Augmentation (training only): random shifts by up to `shift` pixels (pad with black, crop back: the
random crop of small images) and, for natural images only, horizontal flips — never for digits, where
a mirrored 2 or 7 is not a 2 or 7.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from lmlab.data.classification import split_examples
from lmlab.errors import LmlabError

DIGITS = "digits"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MODES = {1: "L", 3: "RGB"}


@dataclass(frozen=True)
class Preprocessing:
    """How any image becomes the model's input (C, H, W): what `classify` and a HF pipeline repeat."""
    image_size: int
    channels: int
    mean: float = 0.5
    std: float = 0.5
    resize: bool = True

    def __post_init__(self):
        if self.channels not in MODES or self.image_size <= 0 or self.std <= 0:
            raise ValueError(f"need channels 1 or 3, image_size > 0 and std > 0, got {self.channels}, "
                             f"{self.image_size}, {self.std}")

    def to_unit(self, image, where: str = "image") -> torch.Tensor:
        """A Pillow image -> (C, H, W) floats in [0, 1], converted and resized (or checked, resize false)."""
        from PIL import Image
        size = (self.image_size, self.image_size)
        if not self.resize and (image.size != size or len(image.getbands()) != self.channels):
            raise LmlabError(f"{where}: a {image.size[0]}×{image.size[1]} image with {len(image.getbands())} "
                             f"channel(s); the model reads {size[0]}×{size[1]} with {self.channels} (set resize "
                             "true to convert every image)")
        image = image.convert(MODES[self.channels])
        if image.size != size:
            image = image.resize(size, Image.BILINEAR)
        data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
        return data.view(self.image_size, self.image_size, self.channels).permute(2, 0, 1).float() / 255.0

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] pixels (…, C, H, W) -> the model's input."""
        return (x - self.mean) / self.std

    def __call__(self, image, where: str = "image") -> torch.Tensor:
        return self.normalize(self.to_unit(image, where))

    def hf_processor(self) -> dict:
        """preprocessor_config.json: Hugging Face's ViTImageProcessor doing the same steps. Pipelines read every
        image as RGB, so it is always 3 channels: a grey model is exported as its RGB twin (see io.hf_resnet)."""
        return {"image_processor_type": "ViTImageProcessor", "do_resize": True,
                "size": {"height": self.image_size, "width": self.image_size}, "resample": 2,  # bilinear
                "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
                "image_mean": [self.mean] * 3, "image_std": [self.std] * 3, "do_convert_rgb": True}


@dataclass(frozen=True)
class ImageDataConfig:
    """config.json's data section of an image run (image_size and channels: the model's, filled in)."""
    input_size: int = 0           # pixels a side images are resized to (0: the model's image_size; set by training)
    mode: str = ""                # Pillow mode images are converted to: L (grey) or RGB ("": the model's in_channels)
    mean: float = 0.5             # normalisation of [0, 1] pixels: (x − mean) / std
    std: float = 0.5
    resize: bool = True           # convert every image to the model's size and channels; false: refuse others
    shift: int = 1                # augmentation: random shifts by up to this many pixels (0: none)
    flip: bool = False            # augmentation: random horizontal flips (not for digits or text)
    val_fraction: float = 0.15    # per class, seeded
    test_fraction: float = 0.15
    split_seed: int = 0
    train_fraction: float = 1.0   # train on this share of the training split (per class, seeded); val/test unchanged
    skip_bad: bool = False        # skip unreadable image files (and say how many) instead of stopping

    def __post_init__(self):
        if self.input_size < 0 or self.mode not in ("", *MODES.values()) or self.std <= 0 or self.shift < 0:
            raise ValueError(f"need input_size ≥ 0, mode L or RGB, std > 0 and shift ≥ 0, got {self.input_size}, "
                             f"'{self.mode}', {self.std}, {self.shift}")
        if not (0 < self.val_fraction < 1 and 0 < self.test_fraction < 1 and self.val_fraction + self.test_fraction < 1):
            raise ValueError("need 0 < val_fraction, test_fraction and val_fraction + test_fraction < 1")
        if not 0 < self.train_fraction <= 1:
            raise ValueError(f"need 0 < train_fraction ≤ 1, got {self.train_fraction}")

    def preprocessing(self) -> Preprocessing:
        if not (self.input_size and self.mode):
            raise LmlabError("the data settings name no input_size / mode yet (a run fills them in from the model)")
        channels = {m: c for c, m in MODES.items()}[self.mode]
        return Preprocessing(self.input_size, channels, self.mean, self.std, self.resize)

    def for_model(self, image_size: int, in_channels: int) -> ImageDataConfig:
        """These settings with input_size and mode taken from the model (where not set); a mismatch is refused."""
        mode = MODES.get(in_channels)
        if mode is None:
            raise LmlabError(f"the model reads {in_channels} channels; images have 1 (grey) or 3 (RGB)")
        if (self.input_size and self.input_size != image_size) or (self.mode and self.mode != mode):
            raise LmlabError(f"the data settings (input_size {self.input_size}, mode '{self.mode}') do not fit the "
                             f"model ({image_size}×{image_size}, {in_channels} channel(s)); set the model's "
                             "--image_size / --in_channels instead")
        return dataclasses.replace(self, input_size=image_size, mode=mode)


@dataclass
class ImageSet:
    """Images as [0, 1] pixels (N, C, H, W), their class ids (N,), the class names and where each came from."""
    pixels: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    names: list[str]
    skipped: int = 0

    def subset(self, idx: list[int]) -> ImageSet:
        return ImageSet(self.pixels[idx], self.labels[idx], self.classes, [self.names[i] for i in idx])


def digits_images():
    """[(class name, Pillow image, name)] of scikit-learn's 1,797 digits as 8-bit grey 8×8 images."""
    from PIL import Image
    from sklearn.datasets import load_digits
    d = load_digits()
    out = []
    for i, (img, y) in enumerate(zip(d.images, d.target)):
        grey = (img * 255.0 / 16.0).round().clip(0, 255).astype("uint8")
        out.append((str(y), Image.fromarray(grey, mode="L"), f"digits:{i}"))
    return out


def folder_files(folder: Path) -> list[tuple[str, Path]]:
    """[(class name, file)] of FOLDER/CLASS/* (hidden files ignored); a class folder with no file is refused."""
    if not folder.is_dir():
        raise LmlabError(f"{folder} is not a folder; give `digits` or a folder of class folders (FOLDER/CLASS/*.png)")
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if loose:
        raise LmlabError(f"{loose[0]}: images go in one folder per class (FOLDER/CLASS_NAME/image.png)")
    if len(classes) < 2:
        raise LmlabError(f"{folder} has {len(classes)} class folder(s); image classification needs at least 2 "
                         "(FOLDER/CLASS_NAME/*.png|jpg)")
    out = []
    for c in classes:
        files = sorted(p for p in c.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise LmlabError(f"{c}: the class folder '{c.name}' holds no images")
        out += [(c.name, f) for f in files]
    return out


def open_image(path: Path):
    """A Pillow image, fully read; a file that is not an image or is damaged raises LmlabError naming it."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        kind = "not an image" if isinstance(e, UnidentifiedImageError) else f"a damaged image ({e})"
        raise LmlabError(f"{path}: {kind}") from None


def load_images(source: str, prep: Preprocessing, skip_bad: bool = False) -> ImageSet:
    """Every image of `source` ("digits" or a folder of class folders) through `prep`, as [0, 1] pixels."""
    if source == DIGITS:
        items = [(y, img, name) for y, img, name in digits_images()]
        bad = 0
    else:
        items, bad = [], 0
        files = folder_files(Path(source))
        for cls, path in files:
            try:
                items.append((cls, open_image(path), str(path)))
            except LmlabError as e:
                if not skip_bad:
                    raise LmlabError(f"{e}; remove it, or pass --skip_bad true to skip such files") from None
                bad += 1
        empty = sorted({c for c, _ in files} - {c for c, _, _ in items})
        if empty:
            raise LmlabError(f"{Path(source) / empty[0]}: the class folder '{empty[0]}' holds no readable image")
    classes = sorted({y for y, _, _ in items})
    index = {c: i for i, c in enumerate(classes)}
    pixels = torch.stack([prep.to_unit(img, name) for _, img, name in items])          # (N, C, H, W)
    labels = torch.tensor([index[y] for y, _, _ in items])
    return ImageSet(pixels, labels, classes, [name for _, _, name in items], skipped=bad)


def split_images(data: ImageSet, cfg: ImageDataConfig) -> tuple[ImageSet, ImageSet, ImageSet]:
    """The fixed stratified train / validation / test split (seeded by split_seed); with train_fraction < 1 the
    first that share of each class's training images (in a seeded order), so smaller sets nest in larger ones."""
    rows = [{"label": int(y), "i": i} for i, y in enumerate(data.labels.tolist())]
    train, val, test = split_examples(rows, cfg.val_fraction, cfg.test_fraction, cfg.split_seed)
    if cfg.train_fraction < 1:
        train = _share_per_class(train, cfg.train_fraction, cfg.split_seed)
    return tuple(data.subset([r["i"] for r in part]) for part in (train, val, test))  # type: ignore[return-value]


def _share_per_class(rows: list[dict], fraction: float, seed: int) -> list[dict]:
    """round(fraction × n) rows of each class (at least one), in a seeded order: 10 % ⊂ 25 % ⊂ 50 % ⊂ 100 %."""
    by_class: dict[int, list[dict]] = {}
    for row in rows:
        by_class.setdefault(row["label"], []).append(row)
    kept = []
    for label in sorted(by_class):
        members = sorted(by_class[label], key=lambda r: r["i"])
        random.Random(seed * 1000 + label).shuffle(members)
        kept += members[:max(1, round(fraction * len(members)))]
    return sorted(kept, key=lambda r: r["i"])


def augment(x: torch.Tensor, shift: int, flip: bool, gen: torch.Generator) -> torch.Tensor:
    """Random shifts by up to `shift` pixels (zero padding = black) and optional horizontal flips; (B, C, H, W)."""
    B, _, H, W = x.shape
    if shift:
        padded = F.pad(x, (shift, shift, shift, shift))
        dy, dx = torch.randint(0, 2 * shift + 1, (2, B), generator=gen).tolist()
        x = torch.stack([padded[b, :, dy[b]:dy[b] + H, dx[b]:dx[b] + W] for b in range(B)])
    if flip:
        mirror = torch.rand(B, generator=gen) < 0.5
        x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
    return x


class ImageBatches:
    """Training batches: epochs of a seeded shuffle, augmented, normalised; resumable (order, position, RNG)."""

    def __init__(self, data: ImageSet, batch_size: int, prep: Preprocessing, cfg: ImageDataConfig, seed: int):
        self.data, self.batch_size, self.prep, self.cfg = data, min(batch_size, len(data.labels)), prep, cfg
        self.rng = random.Random(seed)
        self.order: list[int] = []
        self.pos = 0

    def next(self) -> dict[str, torch.Tensor]:
        if self.pos + self.batch_size > len(self.order):  # a new epoch (the last partial batch is dropped)
            self.order = list(range(len(self.data.labels)))
            self.rng.shuffle(self.order)
            self.pos = 0
        idx = self.order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        gen = torch.Generator().manual_seed(self.rng.getrandbits(62))
        x = augment(self.data.pixels[idx], self.cfg.shift, self.cfg.flip, gen)
        return {"pixel_values": self.prep.normalize(x), "labels": self.data.labels[idx]}

    def state_dict(self) -> dict:
        version, state, gauss = self.rng.getstate()
        return {"rng": list(state), "gauss": gauss, "order": self.order, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.rng.setstate((3, tuple(state["rng"]), state["gauss"]))
        self.order, self.pos = list(state["order"]), state["pos"]


def eval_batches(data: ImageSet, prep: Preprocessing, batch_size: int = 256) -> list[dict[str, torch.Tensor]]:
    """Fixed, unaugmented batches of every image (validation, test)."""
    return [{"pixel_values": prep.normalize(data.pixels[i:i + batch_size]), "labels": data.labels[i:i + batch_size]}
            for i in range(0, len(data.labels), batch_size)]

"""Classify images with a trained image run (any family with the "classify" capability: CNN, ViT).

The run's config.json holds the class names ("labels") and the preprocessing (its data section), so an
image a user passes is converted and resized exactly as the training images were.
"""

from __future__ import annotations

from pathlib import Path

import torch

from lmlab.data.images import ImageDataConfig, Preprocessing, open_image
from lmlab.errors import LmlabError
from lmlab.runs.run import Run


def run_preprocessing(run: Run) -> Preprocessing:
    if "data" not in run.meta:
        raise LmlabError(f"{run.path} holds no preprocessing settings (an import from Hugging Face?); fine-tune it "
                         f"first with `lmlab train {run.name} --data DATA --init {run.path}`")
    data_cfg = run.config("data")
    if not isinstance(data_cfg, ImageDataConfig):
        raise LmlabError(f"{run.path} is not an image run (its data section is a {type(data_cfg).__name__})")
    return data_cfg.preprocessing()


def load_classifier(path: str | Path):
    """(model in eval mode, preprocessing, class names) of an image run."""
    run = Run.open(path, command="classify")
    labels = run.meta.get("labels")
    if not isinstance(labels, list) or not labels:
        raise LmlabError(f"{run.path / 'config.json'} names no class labels; is the run finished?")
    model = run.model()
    model.eval()
    return model, run_preprocessing(run), labels


@torch.no_grad()
def predict_logits(model, batches: list[dict], device: torch.device | str = "cpu") -> torch.Tensor:
    """Logits (N, K) of eval-mode batches of pixel_values (the model is left in eval mode)."""
    model.eval()
    return torch.cat([model(b["pixel_values"].to(device)).float().cpu() for b in batches])


@torch.no_grad()
def classify_files(path: str | Path, images: list[str | Path], top_k: int = 5) -> list[list[tuple[str, float]]]:
    """For each image file, its top_k (class name, probability), most probable first."""
    model, prep, labels = load_classifier(path)
    pixels = torch.stack([prep(open_image(Path(p)), str(p)) for p in images])        # (N, C, H, W)
    probs = torch.softmax(model(pixels).float(), -1)
    k = min(top_k, len(labels))
    top = probs.topk(k, -1)
    return [[(labels[i], float(p)) for p, i in zip(ps.tolist(), ix.tolist())] for ps, ix in zip(top.values, top.indices)]

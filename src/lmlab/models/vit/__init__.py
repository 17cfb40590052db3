"""ViT: the Vision Transformer, an image as a sequence of patches (Dosovitskiy et al. 2021)."""

from lmlab.models.vit.config import ViTConfig, patch_grid
from lmlab.models.vit.presets import PRESETS, count_parameters, preset

__all__ = ["ViTConfig", "ViTModel", "ViTOutput", "ViTForImageClassification", "PRESETS", "count_parameters",
           "patch_grid", "preset"]

_MODEL = {"ViTModel", "ViTOutput", "ViTForImageClassification"}


def __getattr__(name: str):
    """The model classes import torch: load them on first use, so that configs and presets stay light."""
    if name in _MODEL:
        from lmlab.models.vit import model
        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

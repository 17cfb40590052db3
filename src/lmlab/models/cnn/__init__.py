"""CNNs: AlexNet, VGG and ResNet (notes 004 四) as one family, `lmlab train cnn`."""

from lmlab.models.cnn.config import CNNConfig
from lmlab.models.cnn.presets import PRESETS, preset

__all__ = ["CNN", "CNNConfig", "PRESETS", "preset"]


def __getattr__(name: str):
    """The model classes import torch: load them on first use, so that configs and presets stay light."""
    if name in ("CNN",):
        from lmlab.models.cnn import model
        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

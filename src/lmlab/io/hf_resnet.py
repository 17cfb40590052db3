"""Hugging Face ResNet (`ResNetModel`, `ResNetForImageClassification`) <-> lmlab's CNN with arch "resnet".

Hugging Face's ResNet is He et al. (2016) as torchvision builds it (stride on the bottleneck's 3×3, the
"v1.5"): `depths` are lmlab's `layers`, `hidden_sizes` its `channels` (block output widths),
`embedding_size` its `stem_channels`, `layer_type` its `block`. Only the ImageNet stem (7×7/2 + max-pool)
exists there, with ReLU, no downsampling in the first stage and none in the bottleneck's 1×1; other
settings are refused with the reason. Module names:

  lmlab                                Hugging Face (under "resnet." in ResNetForImageClassification)
  stem.0 / stem.1                      embedder.embedder.convolution / .normalization
  stages.i.j.conv{k}.0 / .1            encoder.stages.i.layers.j.layer.{k-1}.convolution / .normalization
  stages.i.j.shortcut.0 / .1           encoder.stages.i.layers.j.shortcut.convolution / .normalization
  classifier                           classifier.1 (outside "resnet.")
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import torch

from lmlab.errors import LmlabError
from lmlab.io.hf_folder import load_strict, read_hf_config, read_weights, write_hf_folder
from lmlab.models.cnn.config import CNNConfig
from lmlab.models.cnn.model import CNN

ARCHS = ("ResNetModel", "ResNetForImageClassification")
_BN = {"0": "convolution", "1": "normalization"}


def cnn_config_from_hf(hf: dict) -> CNNConfig:
    """The CNNConfig of a Hugging Face ResNetConfig (as a dict); what lmlab cannot compute is refused."""
    wrong = [f"{k}={hf.get(k)!r}" for k, ok in (("hidden_act", "relu"), ("downsample_in_first_stage", False),
                                                 ("downsample_in_bottleneck", False)) if hf.get(k, ok) != ok]
    if wrong:
        raise LmlabError(f"lmlab's ResNet cannot compute this Hugging Face ResNet ({', '.join(wrong)})")
    n_classes = len(hf.get("id2label") or {}) or hf.get("num_labels", 2)
    try:
        return CNNConfig(arch="resnet", stem="imagenet", image_size=hf.get("image_size", 224),
                         in_channels=hf.get("num_channels", 3), n_classes=n_classes,
                         stem_channels=hf.get("embedding_size", 64), channels=tuple(hf["hidden_sizes"]),
                         layers=tuple(hf["depths"]), block=hf.get("layer_type", "bottleneck"))
    except (KeyError, ValueError) as e:
        raise LmlabError(f"cannot read this Hugging Face ResNet config ({e!r})") from None


def hf_config_from_cnn(cfg: CNNConfig, labels: list[str] | None = None, head: bool = True) -> dict:
    """A Hugging Face ResNetConfig (dict) computing what the lmlab CNN computes; others are refused."""
    if cfg.arch != "resnet" or cfg.stem != "imagenet":
        raise LmlabError(f"only a ResNet with the ImageNet stem has a Hugging Face twin (this CNN: arch '{cfg.arch}', "
                         f"stem '{cfg.stem}')")
    labels = labels or [f"LABEL_{i}" for i in range(cfg.n_classes)]
    return {"model_type": "resnet", "architectures": [ARCHS[head]], "num_channels": cfg.in_channels,
            "embedding_size": cfg.stem_channels, "hidden_sizes": list(cfg.channels), "depths": list(cfg.layers),
            "layer_type": cfg.block, "hidden_act": "relu", "downsample_in_first_stage": False,
            "downsample_in_bottleneck": False, "image_size": cfg.image_size,
            "id2label": {str(i): name for i, name in enumerate(labels)},
            "label2id": {name: i for i, name in enumerate(labels)}}


def hf_name(name: str) -> str:
    """lmlab's parameter name -> Hugging Face ResNetForImageClassification's."""
    if name.startswith("classifier."):
        return "classifier.1." + name.removeprefix("classifier.")
    if m := re.fullmatch(r"stem\.([01])\.(.+)", name):
        return f"resnet.embedder.embedder.{_BN[m[1]]}.{m[2]}"
    if m := re.fullmatch(r"stages\.(\d+)\.(\d+)\.conv(\d)\.([01])\.(.+)", name):
        return f"resnet.encoder.stages.{m[1]}.layers.{m[2]}.layer.{int(m[3]) - 1}.{_BN[m[4]]}.{m[5]}"
    if m := re.fullmatch(r"stages\.(\d+)\.(\d+)\.shortcut\.([01])\.(.+)", name):
        return f"resnet.encoder.stages.{m[1]}.layers.{m[2]}.shortcut.{_BN[m[3]]}.{m[4]}"
    raise ValueError(f"no Hugging Face name for {name}")


def to_hf_state_dict(model: CNN, head: bool = True) -> dict[str, torch.Tensor]:
    """The model's tensors under Hugging Face names (ResNetModel's without "resnet." and the head when not head)."""
    out = {hf_name(k): v.detach().contiguous() for k, v in model.state_dict().items()}
    if head:
        return out
    return {k.removeprefix("resnet."): v for k, v in out.items() if k.startswith("resnet.")}


def load_hf_resnet(path: str | Path) -> CNN:
    """An lmlab CNN from a Hugging Face ResNet folder (config.json + model.safetensors). A ResNetModel folder has
    no classifier: it starts fresh, with a warning. fp16/bf16 weights are upcast to fp32."""
    path = Path(path)
    cfg = cnn_config_from_hf(read_hf_config(path))
    model = CNN(cfg)
    sd = read_weights(path)
    if not any(k.startswith("resnet.") for k in sd):  # ResNetModel: the backbone's names, no head
        sd = {"resnet." + k: v for k, v in sd.items()}
    back = {hf_name(k): k for k in model.state_dict()}
    unknown = sorted(k for k in sd if k not in back)
    if unknown:
        raise LmlabError(f"{path} does not match its config.json: unexpected {', '.join(unknown[:5])}")
    own = {back[k]: v.float() if v.is_floating_point() else v for k, v in sd.items()}
    fresh = {k for k in model.state_dict() if k.startswith("classifier.")} - set(own)
    if fresh:
        warnings.warn(f"{path} has no classifier (a ResNetModel): it starts fresh", stacklevel=2)
    return load_strict(model, own, path, optional=fresh)


LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2: Pillow's L = 0.299 R + 0.587 G + 0.114 B


def luma_split(weight: torch.Tensor) -> torch.Tensor:
    """A grey input's filters (out, 1, k, k) as RGB ones (out, 3, k, k) that give the same on R = G = B."""
    return weight * torch.tensor(LUMA, dtype=weight.dtype)[None, :, None, None]


def rgb_twin(model: CNN) -> CNN:
    """A grey (1-channel) CNN as the RGB one that computes the same on grey images: the first convolution's
    weights split over R, G, B by the luma weights (they sum to 1, so R = G = B = v gives back v·w; a colour
    image is read as Pillow's L of it, up to rounding). Hugging Face pipelines feed RGB, hence this."""
    import dataclasses
    twin = CNN(dataclasses.replace(model.cfg, in_channels=3))
    sd = model.state_dict()
    first = next(k for k, v in sd.items() if v.dim() == 4)
    sd[first] = luma_split(sd[first])
    twin.load_state_dict(sd)
    return twin.train(model.training)


def save_hf_resnet(model: CNN, path: str | Path, overwrite: bool = False, labels: list[str] | None = None,
                   head: bool = True) -> None:
    """Write the CNN as a Hugging Face ResNetForImageClassification folder (ResNetModel's with head=False); a
    grey model as its RGB twin, which pipelines can feed."""
    if model.cfg.in_channels == 1:
        model = rgb_twin(model)
    hf_cfg = hf_config_from_cnn(model.cfg, labels, head)  # refuse before anything is written
    write_hf_folder(path, hf_cfg, to_hf_state_dict(model, head), overwrite=overwrite)

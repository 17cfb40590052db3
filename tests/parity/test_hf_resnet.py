"""lmlab ResNet <-> Hugging Face ResNet (ResNetModel, ResNetForImageClassification), both ways.

Tolerance: fp32 outputs agree to TOL = 1e-5 (max abs difference) on random 32×32 images, in eval mode
(running statistics) and in train mode (batch statistics; the running statistics each side updates
agree too). Weights and BatchNorm statistics are random, not the fresh init, so every tensor matters.
Small shapes (basic and bottleneck) keep the test fast; ResNet-18's exact size is checked on the meta device.
"""

from __future__ import annotations

import pytest
import torch

from lmlab.errors import LmlabError
from lmlab.io.hf_resnet import hf_config_from_cnn, load_hf_resnet, save_hf_resnet
from lmlab.models.cnn import CNN, CNNConfig, preset
from lmlab.models.cnn.presets import count_parameters
from lmlab.runs.hf import load_hf, save_hf

transformers = pytest.importorskip("transformers")
from transformers import ResNetConfig, ResNetForImageClassification, ResNetModel  # noqa: E402

TOL = 1e-5
SHAPES = {"basic": dict(embedding_size=8, hidden_sizes=[8, 16, 24], depths=[1, 2, 1], layer_type="basic"),
          "bottleneck": dict(embedding_size=8, hidden_sizes=[16, 32], depths=[2, 1], layer_type="bottleneck")}


def randomize(model: torch.nn.Module, seed: int = 0) -> None:
    """Random weights and BatchNorm statistics (the fresh init has γ 1, β 0, mean 0, var 1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in sorted(model.state_dict().items()):
            if not t.is_floating_point():
                continue
            r = torch.rand(t.shape, generator=g) + 0.5 if name.endswith(("running_var", "weight")) and t.dim() == 1 \
                else torch.randn(t.shape, generator=g) * (0.3 if t.dim() > 1 else 0.1)
            t.copy_(r)


def hf_pair(kind: str, tmp_path, n_labels: int = 5):
    hf = ResNetForImageClassification(ResNetConfig(num_labels=n_labels, **SHAPES[kind])).eval()
    randomize(hf)
    hf.save_pretrained(tmp_path / "hf")
    return hf, load_hf_resnet(tmp_path / "hf").eval()


def images(n: int = 4) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("kind", ["basic", "bottleneck"])
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_hf_to_lmlab(kind, mode, tmp_path):
    hf, ours = hf_pair(kind, tmp_path)
    hf.train(mode == "train"), ours.train(mode == "train")
    x = images()
    with torch.no_grad():
        want, got = hf(x).logits, ours(x)
    assert (want - got).abs().max().item() <= TOL
    if mode == "train":  # the same batch statistics went into the running averages
        hf_bn = hf.resnet.embedder.embedder.normalization
        assert torch.allclose(hf_bn.running_var, ours.stem[1].running_var, atol=TOL)


@pytest.mark.parametrize("kind", ["basic", "bottleneck"])
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_lmlab_to_hf(kind, mode, tmp_path):
    s = SHAPES[kind]
    ours = CNN(CNNConfig(arch="resnet", in_channels=3, n_classes=4, stem_channels=s["embedding_size"],
                         channels=tuple(s["hidden_sizes"]), layers=tuple(s["depths"]), block=s["layer_type"]))
    randomize(ours, seed=2)
    save_hf_resnet(ours, tmp_path / "out", labels=["a", "b", "c", "d"])
    hf = ResNetForImageClassification.from_pretrained(tmp_path / "out")
    assert hf.config.id2label[2] == "c"
    hf.train(mode == "train"), ours.train(mode == "train")
    x = images()
    with torch.no_grad():
        assert (hf(x).logits - ours(x)).abs().max().item() <= TOL


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_resnet_model_backbone_both_ways(mode, tmp_path):
    """ResNetModel (no head): last_hidden_state = lmlab's feature map, pooler_output its average."""
    hf = ResNetModel(ResNetConfig(**SHAPES["basic"]))
    randomize(hf, seed=3)
    hf.save_pretrained(tmp_path / "base")
    with pytest.warns(UserWarning, match="no classifier"):
        ours = load_hf_resnet(tmp_path / "base")
    hf.train(mode == "train"), ours.train(mode == "train")
    x = images()
    with torch.no_grad():
        out, feats = hf(x), ours.features_of(x)
    assert (out.last_hidden_state - feats).abs().max().item() <= TOL
    assert (out.pooler_output - ours.pool(feats)).abs().max().item() <= TOL
    save_hf_resnet(ours, tmp_path / "back", head=False)  # and back out as a ResNetModel
    again = ResNetModel.from_pretrained(tmp_path / "back").train(mode == "train")
    with torch.no_grad():
        assert (again(x).last_hidden_state - ours.features_of(x)).abs().max().item() <= TOL


def test_resnet18_is_hf_resnet18_to_the_parameter():
    cfg = ResNetConfig(depths=[2, 2, 2, 2], hidden_sizes=[64, 128, 256, 512], layer_type="basic", num_labels=1000)
    with torch.device("meta"):
        hf = ResNetForImageClassification(cfg)
    n_hf = sum(p.numel() for p in hf.parameters())
    assert n_hf == count_parameters(preset("resnet18")) == 11_689_512
    hf_dict = hf_config_from_cnn(preset("resnet18"))
    assert (hf_dict["depths"], hf_dict["hidden_sizes"], hf_dict["layer_type"]) == ([2, 2, 2, 2], [64, 128, 256, 512],
                                                                                  "basic")


def test_dispatch_and_refusals(tmp_path):
    _, ours = hf_pair("basic", tmp_path)
    assert isinstance(load_hf(tmp_path / "hf"), CNN)
    assert save_hf(ours, tmp_path / "again") == "resnet"
    with pytest.raises(LmlabError, match="ImageNet stem"):
        save_hf(CNN(preset("resnet-digits")), tmp_path / "small")
    with pytest.raises(LmlabError, match="only a ResNet"):
        save_hf(CNN(preset("vgg-digits")), tmp_path / "vgg")
    ResNetModel(ResNetConfig(downsample_in_first_stage=True, **SHAPES["basic"])).save_pretrained(tmp_path / "ds")
    with pytest.raises(LmlabError, match="downsample_in_first_stage"):
        load_hf_resnet(tmp_path / "ds")


def test_grey_model_exports_as_its_rgb_twin(tmp_path):
    """A 1-channel model goes out as 3 channels (pipelines feed RGB) computing the same on grey images."""
    ours = CNN(CNNConfig(arch="resnet", in_channels=1, n_classes=3, stem_channels=8, channels=(8,), layers=(1,))).eval()
    randomize(ours, seed=4)
    save_hf_resnet(ours, tmp_path / "grey")
    hf = ResNetForImageClassification.from_pretrained(tmp_path / "grey").eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert hf.config.num_channels == 3
        assert (hf(x.expand(-1, 3, -1, -1)).logits - ours(x)).abs().max().item() <= TOL

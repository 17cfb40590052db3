"""lmlab.io.hf_folder: the files every Hugging Face converter shares, without transformers: config.json and
the weights (one file or shards) read back as written, a folder that does not match its model refused with
what is wrong, the encoder settings HF spells alike, and the shape of peft's name tables."""

import json
import warnings

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from lmlab.errors import LmlabError
from lmlab.io.hf_folder import (
    CONFIG_FILE,
    INDEX_FILE,
    WEIGHTS_FILE,
    PeftNames,
    encoder_act_and_dropout,
    load_strict,
    read_hf_config,
    read_weights,
    write_hf_folder,
)


class Tiny(nn.Module):
    def __init__(self, d: int = 3):
        super().__init__()
        self.proj = nn.Linear(d, 2)
        self.norm = nn.LayerNorm(2)


def test_a_written_folder_reads_back(tmp_path):
    tensors = {"a.weight": torch.randn(2, 3), "b.bias": torch.arange(4.0)}
    write_hf_folder(tmp_path / "hf", {"model_type": "toy", "hidden_size": 3}, tensors)
    cfg = read_hf_config(tmp_path / "hf")
    assert cfg == {"model_type": "toy", "hidden_size": 3, "dtype": "float32"}   # the tensors' dtype is recorded
    back = read_weights(tmp_path / "hf")
    assert back.keys() == tensors.keys() and all(torch.equal(back[k], tensors[k]) for k in tensors)
    with pytest.raises(LmlabError, match="not empty"):                         # never written over unasked
        write_hf_folder(tmp_path / "hf", {"model_type": "toy"}, tensors)
    (tmp_path / "hf" / "tokenizer.json").write_text("{}")
    write_hf_folder(tmp_path / "hf", {"model_type": "toy"}, {"c": torch.zeros(1, dtype=torch.bfloat16)},
                    overwrite=True)
    assert read_hf_config(tmp_path / "hf")["dtype"] == "bfloat16" and set(read_weights(tmp_path / "hf")) == {"c"}
    assert (tmp_path / "hf" / "tokenizer.json").is_file()                     # other files are left alone


def test_shards_are_read_as_one_state_dict(tmp_path):
    save_file({"a": torch.ones(2)}, str(tmp_path / "model-00001-of-00002.safetensors"))
    save_file({"b": torch.zeros(3)}, str(tmp_path / "model-00002-of-00002.safetensors"))
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (tmp_path / INDEX_FILE).write_text(json.dumps(index))
    sd = read_weights(tmp_path)
    assert torch.equal(sd["a"], torch.ones(2)) and torch.equal(sd["b"], torch.zeros(3))


def test_a_folder_without_its_files_says_so(tmp_path):
    with pytest.raises(LmlabError, match=f"no {CONFIG_FILE}"):
        read_hf_config(tmp_path)
    with pytest.raises(LmlabError, match=f"no {WEIGHTS_FILE} or {INDEX_FILE}$"):
        read_weights(tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(LmlabError, match="pytorch_model.bin is a pickle"):
        read_weights(tmp_path)
    (tmp_path / WEIGHTS_FILE).write_bytes(b"not safetensors")
    with pytest.raises(LmlabError, match="cannot read the weights"):
        read_weights(tmp_path)


def test_load_strict_loads_exactly_what_the_model_needs(tmp_path):
    src, model = Tiny(), Tiny()
    assert load_strict(model, src.state_dict(), tmp_path, optional=set()) is model
    assert torch.equal(model.proj.weight, src.proj.weight)
    sd = {k: v for k, v in src.state_dict().items() if k != "norm.bias"}
    load_strict(Tiny(), sd, tmp_path, optional={"norm.bias"})                # optional names may be absent


@pytest.mark.parametrize("change, needle", [
    (lambda sd: sd.pop("norm.weight"), "missing norm.weight"),
    (lambda sd: sd.update(extra=torch.zeros(1)), "unexpected extra"),
    (lambda sd: sd.update({"proj.weight": torch.zeros(2, 5)}), r"wrong shape proj.weight \(2, 5\) \(model wants \(2, 3\)\)"),
])
def test_load_strict_blames_the_folder(tmp_path, change, needle):
    sd = dict(Tiny().state_dict())
    change(sd)
    model = Tiny()
    before = model.proj.weight.clone()
    with pytest.raises(LmlabError, match=f"{tmp_path} does not match its {CONFIG_FILE}: .*{needle}"):
        load_strict(model, sd, tmp_path, optional=set())
    assert torch.equal(model.proj.weight, before)                           # nothing loaded


def test_encoder_act_and_dropout():
    base = {"hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}
    assert encoder_act_and_dropout({**base, "hidden_act": "gelu"}) == ("gelu_exact", 0.1)   # HF's gelu is erf
    assert encoder_act_and_dropout({**base, "hidden_act": "gelu_new"}) == ("gelu", 0.1)
    with pytest.raises(LmlabError, match="hidden_act='swish' is not supported"):
        encoder_act_and_dropout({**base, "hidden_act": "swish"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert encoder_act_and_dropout({"hidden_act": "relu", "hidden_dropout_prob": 0.2,
                                        "attention_probs_dropout_prob": 0.0}) == ("relu", 0.2)
    assert "one dropout rate" in str(caught[0].message)


def test_peft_names_fill_the_template_from_the_match():
    names = PeftNames(models=(Tiny,), unsupported=lambda cfg: [],
                      names={r"(?P<p>(?:enc\.)?)blocks\.(?P<i>\d+)\.q": ("{p}layer.{i}.qkv", 0), "head": ("cls", None)})
    assert names.hf_name("blocks.3.q") == ("layer.3.qkv", 0)
    assert names.hf_name("enc.blocks.11.q") == ("enc.layer.11.qkv", 0)
    assert names.hf_name("head") == ("cls", None)
    assert names.hf_name("blocks.3.qq") is None and names.hf_name("x.head") is None   # whole names only

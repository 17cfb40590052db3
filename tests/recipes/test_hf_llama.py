"""`lmlab hf import/export` with a Llama folder: it becomes a GPT run that `lmlab info` reads and goes back out."""

import torch
from safetensors.torch import load_file

from lmlab.cli import main
from lmlab.io.hf import load_hf


def test_import_llama_then_info_then_export(tmp_path, capsys):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      intermediate_size=172, vocab_size=300, max_position_embeddings=128,
                      rope_parameters={"rope_type": "default", "rope_theta": 500000.0})
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "hf")

    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "run")]) == 0
    assert main(["info", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    for line in ("pos_embedding   rotary", "norm            rmsnorm", "activation      swiglu",
                 "n_kv_heads      2", "rope_theta      500000.0", "tie_embeddings  False"):
        assert line in out
    n = sum(p.numel() for p in LlamaForCausalLM(cfg).parameters())
    assert f"parameters      {n:,}" in out  # lmlab's count from the shapes = HF's count

    assert main(["hf", "export", str(tmp_path / "run"), "--out", str(tmp_path / "back")]) == 0
    assert "LlamaForCausalLM" in capsys.readouterr().out
    a, b = load_file(tmp_path / "hf" / "model.safetensors"), load_file(tmp_path / "back" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert load_hf(tmp_path / "back").cfg.rope_theta == 500000.0

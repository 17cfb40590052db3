"""The CUDA paths: run only where a GPU is present (CI has none; the developers run these on a GPU
machine and record the result in BENCHMARKS.md). Each mirrors a CPU test elsewhere in the suite."""

import pytest
import torch

from lmlab.data.lm_config import LMDataConfig
from lmlab.generate.decoding import GenerationConfig
from lmlab.generate.text import generate_ids
from lmlab.models.gpt import GPT, GPTConfig, preset
from lmlab.ops.attention import attention
from lmlab.recipes.pretrain_gpt import pretrain_gpt
from lmlab.train.config import TrainConfig
from lmlab.train.metrics import read_metrics

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("dtype", ["fp16", "bf16", "fp32"])
def test_training_on_cuda_loss_falls(shakespeare_small, tmp_path, dtype):
    """fp16 runs with GradScaler (dynamic loss scaling), bf16 without; all must learn."""
    cfg = TrainConfig(max_steps=60, batch_size=8, eval_every=30, eval_batches=2, log_every=1, warmup_steps=5,
                      lr=3e-3, min_lr=3e-4, dtype=dtype, device="cuda")
    pretrain_gpt(str(shakespeare_small), preset("tiny", max_seq_len=64), cfg, LMDataConfig(), tmp_path / "r",
                 quiet=True)
    rows = [r["loss"] for r in read_metrics(tmp_path / "r" / "metrics.jsonl") if "loss" in r]
    assert rows[-1] < rows[0] - 0.5


def test_resume_on_cuda_is_exact(shakespeare_small, tmp_path):
    from lmlab.errors import LmlabError
    cfg = TrainConfig(max_steps=12, batch_size=4, eval_every=6, eval_batches=1, log_every=1, warmup_steps=2,
                      device="cuda", dtype="bf16")
    model = preset("tiny", max_seq_len=32)
    pretrain_gpt(str(shakespeare_small), model, cfg, LMDataConfig(), tmp_path / "a", quiet=True)

    def stop(step):
        if step == 5:
            raise KeyboardInterrupt
    with pytest.raises(LmlabError):
        pretrain_gpt(str(shakespeare_small), model, cfg, LMDataConfig(), tmp_path / "b", quiet=True,
                     on_step_end=stop)
    pretrain_gpt(str(shakespeare_small), model, cfg, LMDataConfig(), tmp_path / "b", resume=True, quiet=True)
    la = [r["loss"] for r in read_metrics(tmp_path / "a" / "metrics.jsonl") if "loss" in r]
    lb = [r["loss"] for r in read_metrics(tmp_path / "b" / "metrics.jsonl") if "loss" in r]
    assert la == pytest.approx(lb, abs=1e-5)  # GPU kernels may not be bit-deterministic


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 2e-2)])
def test_attention_backends_agree_on_cuda(dtype, tol):
    torch.manual_seed(0)
    B, H, Hkv, T, D = 2, 8, 2, 300, 64
    q = torch.randn(B, H, T, D, device="cuda", dtype=dtype, requires_grad=True)
    k = torch.randn(B, Hkv, T, D, device="cuda", dtype=dtype, requires_grad=True)
    v = torch.randn(B, Hkv, T, D, device="cuda", dtype=dtype, requires_grad=True)
    pad = torch.ones(B, T, dtype=torch.bool, device="cuda")
    pad[1, :37] = False
    outs, grads = {}, {}
    for backend in ("naive", "flash", "bmm", "sdpa"):
        for kw in (dict(causal=True), dict(causal=True, key_padding_mask=pad), dict(causal=True, window=64)):
            y = attention(q, k, v, backend=backend, **kw)
            g = torch.autograd.grad(y.float().square().sum(), (q, k, v))
            outs[backend, str(kw.keys())], grads[backend, str(kw.keys())] = y.float(), [t.float() for t in g]
    for (backend, kw), y in outs.items():
        ref = outs["naive", kw]
        assert not torch.isnan(y).any()
        assert (y - ref).abs().max() <= tol * max(1.0, ref.abs().max().item()), (backend, kw)
        for g, r in zip(grads[backend, kw], grads["naive", kw]):
            assert (g - r).abs().max() <= tol * max(1.0, r.abs().max().item()) * 10, (backend, kw)


@pytest.mark.parametrize("n_kv_heads", [0, 2, 1])
def test_cached_decoding_equals_uncached_on_cuda(n_kv_heads):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=64, max_seq_len=64, d_model=64, n_heads=4, n_kv_heads=n_kv_heads,
                          n_layers=2, tie_embeddings=False)).cuda().eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(20)
    prompts = [[1, 2, 3, 4, 5], [7, 8]]
    cached = generate_ids(model, prompts, GenerationConfig(max_new_tokens=40, temperature=0))
    uncached = generate_ids(model, prompts, GenerationConfig(max_new_tokens=40, temperature=0, use_cache=False))
    assert cached == uncached
    beams = generate_ids(model, prompts, GenerationConfig(max_new_tokens=10, num_beams=3))
    assert all(len(b) == 10 for b in beams)

"""Named GPT sizes. Published parameter counts (tied LM head, counted once) in `PUBLISHED`.

GPT-1: Radford et al. 2018 (Post-LN, 512 positions, 40,478-token BPE).
GPT-2: Radford et al. 2019 (Pre-LN, 1024 positions, 50,257-token byte-level BPE).
GPT-3: Brown et al. 2020, Table 2.1 (2048 positions). The paper lists d_model 5140 for 13B,
which 40 heads do not divide; we use 5120 (= 40 × 128, the stated head size).
Llama 2: Touvron et al. 2023b; Llama 3: Meta 2024 (the released configs). Llama-style models
use rotary positions, RMSNorm, SwiGLU, no biases and an untied head; Llama 3 adds GQA (8 kv heads).
"""

from __future__ import annotations

from lmlab.errors import LmlabError
from lmlab.models.gpt.config import GPTConfig
from lmlab.units import binary_bytes

_G2 = dict(vocab_size=50257, max_seq_len=1024)
_G3 = dict(vocab_size=50257, max_seq_len=2048)
_LLAMA = dict(pos_embedding="rotary", norm="rmsnorm", activation="swiglu", bias=False, tie_embeddings=False)

PRESETS: dict[str, dict] = {
    # small CPU presets (vocab_size is replaced by the tokenizer's when training)
    "tiny": dict(vocab_size=256, max_seq_len=64, d_model=64, n_heads=4, n_layers=2),
    "nano": dict(vocab_size=65, max_seq_len=64, d_model=128, n_heads=4, n_layers=4),  # nanoGPT's CPU shape
    "llama-nano": dict(**_LLAMA, vocab_size=65, max_seq_len=256, d_model=128, n_heads=4, n_kv_heads=2,
                       n_layers=4, d_ff=352, norm_eps=1e-5),
    # published sizes
    "gpt1": dict(vocab_size=40478, max_seq_len=512, d_model=768, n_heads=12, n_layers=12, norm_first=False,
                 activation="gelu"),
    "gpt2-small": dict(**_G2, d_model=768, n_heads=12, n_layers=12),
    "gpt2-medium": dict(**_G2, d_model=1024, n_heads=16, n_layers=24),
    "gpt2-large": dict(**_G2, d_model=1280, n_heads=20, n_layers=36),
    "gpt2-xl": dict(**_G2, d_model=1600, n_heads=25, n_layers=48),
    "gpt3-small": dict(**_G3, d_model=768, n_heads=12, n_layers=12),
    "gpt3-medium": dict(**_G3, d_model=1024, n_heads=16, n_layers=24),
    "gpt3-large": dict(**_G3, d_model=1536, n_heads=16, n_layers=24),
    "gpt3-xl": dict(**_G3, d_model=2048, n_heads=16, n_layers=24),
    "gpt3-2.7b": dict(**_G3, d_model=2560, n_heads=32, n_layers=32),
    "gpt3-6.7b": dict(**_G3, d_model=4096, n_heads=32, n_layers=32),
    "gpt3-13b": dict(**_G3, d_model=5120, n_heads=40, n_layers=40),
    "gpt3-175b": dict(**_G3, d_model=12288, n_heads=96, n_layers=96),
    "llama2-7b": dict(**_LLAMA, vocab_size=32000, max_seq_len=4096, d_model=4096, n_heads=32, n_layers=32,
                      d_ff=11008, norm_eps=1e-5),
    "llama3-8b": dict(**_LLAMA, vocab_size=128256, max_seq_len=8192, d_model=4096, n_heads=32, n_kv_heads=8,
                      n_layers=32, d_ff=14336, norm_eps=1e-5, rope_theta=500000.0),
}

# Parameter counts as published (GPT-2's are the released checkpoints' exact counts).
PUBLISHED: dict[str, float] = {
    "gpt1": 117e6,
    "gpt2-small": 124_439_808, "gpt2-medium": 354_823_168, "gpt2-large": 774_030_080, "gpt2-xl": 1_557_611_200,
    "gpt3-small": 125e6, "gpt3-medium": 350e6, "gpt3-large": 760e6, "gpt3-xl": 1.3e9,
    "gpt3-2.7b": 2.7e9, "gpt3-6.7b": 6.7e9, "gpt3-13b": 13.0e9, "gpt3-175b": 175.0e9,
    "llama2-7b": 6_738_415_616, "llama3-8b": 8_030_261_248,
}


def preset(name: str, **overrides) -> GPTConfig:
    """The GPTConfig of a named preset, with keyword overrides."""
    if name not in PRESETS:
        raise LmlabError(f"unknown preset '{name}'; choose from: {', '.join(PRESETS)}")
    return GPTConfig(**{**PRESETS[name], **overrides})


def count_parameters(cfg: GPTConfig) -> int:
    """Parameters of a GPT with this config, computed from the shapes (no model is built)."""
    C, V, L, F = cfg.d_model, cfg.vocab_size, cfg.n_layers, cfg.ff_dim
    kv = cfg.kv_heads * cfg.head_dim
    b = 1 if cfg.bias else 0
    attn = C * C + 2 * C * kv + C * C + b * (2 * C + 2 * kv)
    n_mats = 3 if cfg.activation == "swiglu" else 2
    ff = n_mats * C * F + b * ((n_mats - 1) * F + C)
    norm = 2 * C if cfg.bias and cfg.norm == "layernorm" else C
    block = attn + ff + 2 * norm
    emb = V * C + (cfg.max_seq_len * C if cfg.pos_embedding == "learned" else 0)
    head = 0 if cfg.tie_embeddings else V * C
    final_norm = norm if cfg.norm_first else 0
    return emb + L * block + final_norm + head


def facts(cfg: GPTConfig) -> list[str]:
    """What `lmlab info` adds for a GPT: embedding share and the KV cache a token costs."""
    from lmlab.nn.kv_cache import kv_bytes_per_token  # it imports torch; presets are read by `--help`
    n = count_parameters(cfg)
    emb = cfg.vocab_size * cfg.d_model + (cfg.max_seq_len * cfg.d_model if cfg.pos_embedding == "learned" else 0)
    per_tok = kv_bytes_per_token(cfg.n_layers, cfg.kv_heads, cfg.head_dim, bytes_per_value=2)
    return [f"  embeddings    {emb:,}   non-embedding {n - emb:,}",
            f"KV cache        {binary_bytes(per_tok)} per token in bf16 ({binary_bytes(2 * per_tok)} fp32) = 2 (K,V) × "
            f"{cfg.n_layers} layers × {cfg.kv_heads} kv heads × {cfg.head_dim} dims; "
            f"{binary_bytes(per_tok * cfg.max_seq_len)} for one full {cfg.max_seq_len}-token context"]

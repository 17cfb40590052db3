"""Named encoder-decoder sizes, and the parameter count of a config computed from its shapes.

transformer-base and transformer-big: Vaswani et al. 2017, Table 3 (N = 6 layers per stack;
base d_model 512, d_ff 2048, 8 heads, P_drop 0.1; big d_model 1024, d_ff 4096, 16 heads, P_drop 0.3)
with the WMT'14 English-German joint BPE vocabulary of about 37,000 tokens (§5.1) shared by
source, target and output projection. The paper reports 65M and 213M parameters. The shapes give
63,082,496 and 214,245,376 with a 37,000-token vocabulary (Post-LN, no final norms, no output
bias); the paper's exact vocabulary size is not published, and its 65M is about what a
41k-token vocabulary would give, so the base figure matches to within 3 % and the big one to 0.6 %.
The small presets are for CPUs: vocab_size is replaced by the tokenizer's when training.
"""

from __future__ import annotations

from lmlab.errors import LmlabError
from lmlab.models.seq2seq.config import Seq2SeqConfig

PRESETS: dict[str, dict] = {
    # CPU sizes
    "transformer-tiny": dict(d_model=64, n_heads=4, d_ff=256, n_encoder_layers=2, n_decoder_layers=2,
                             vocab_size=1000),
    "transformer-mini": dict(d_model=128, n_heads=4, d_ff=512, n_encoder_layers=3, n_decoder_layers=3,
                             vocab_size=4000),
    "transformer-small": dict(d_model=256, n_heads=4, d_ff=1024, n_encoder_layers=3, n_decoder_layers=3,
                              vocab_size=8000),
    # the paper's (Table 3)
    "transformer-base": dict(d_model=512, n_heads=8, d_ff=2048, n_encoder_layers=6, n_decoder_layers=6,
                             dropout=0.1),
    "transformer-big": dict(d_model=1024, n_heads=16, d_ff=4096, n_encoder_layers=6, n_decoder_layers=6,
                            dropout=0.3),
}

PUBLISHED: dict[str, int] = {"transformer-base": 65_000_000, "transformer-big": 213_000_000}  # Table 3


def preset(name: str, **overrides) -> Seq2SeqConfig:
    """The Seq2SeqConfig of a named preset, with keyword overrides."""
    if name not in PRESETS:
        raise LmlabError(f"unknown preset '{name}'; choose from: {', '.join(PRESETS)}")
    return Seq2SeqConfig(**{**PRESETS[name], **overrides})


def count_parameters(cfg: Seq2SeqConfig) -> int:
    """Parameters of a Seq2SeqTransformer with this config, from the shapes (no model is built)."""
    C, F = cfg.d_model, cfg.d_ff
    norm = 2 * C                                            # LayerNorm gain and bias
    attn = 4 * (C * C + C)                                  # q, k, v, out projections with biases
    ff = C * F + F + F * C + C
    encoder = cfg.n_encoder_layers * (attn + ff + 2 * norm)
    decoder = cfg.n_decoder_layers * (2 * attn + ff + 3 * norm)
    final_norms = 2 * norm if cfg.norm_first else 0
    src_emb = cfg.vocab_size * C
    tgt_emb = 0 if cfg.share_embeddings else cfg.target_vocab_size * C
    head = 0 if cfg.tie_embeddings else cfg.target_vocab_size * C
    return src_emb + tgt_emb + head + encoder + decoder + final_norms


def facts(cfg: Seq2SeqConfig) -> list[str]:
    """What `lmlab info` adds for an encoder-decoder: the embedding tables and what shares them."""
    C = cfg.d_model
    shared = "shared by encoder and decoder" if cfg.share_embeddings else f"target {cfg.target_vocab_size * C:,}"
    head = "the head tied to it" if cfg.tie_embeddings else f"head {cfg.target_vocab_size * C:,}"
    return [f"  embeddings    source {cfg.vocab_size * C:,} ({shared}); {head}"]

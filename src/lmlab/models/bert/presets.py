"""Named BERT sizes, and the parameter count of a config computed from its shapes.

BERT-base and BERT-large: Devlin et al. 2019, §3 (L=12, H=768, A=12: 110M; L=24, H=1024, A=16:
340M). The exact counts in `PUBLISHED` are those of the released checkpoints (bert-base-uncased,
bert-large-uncased) for the encoder with its pooler, without the pre-training heads.
Small sizes: Turc et al. 2019 ("Well-Read Students Learn Better"), the 24 compact BERTs released
with the same vocabulary: L layers, H = d_model, A = H/64 heads, d_ff = 4H.
"""

from __future__ import annotations

from lmlab.errors import LmlabError
from lmlab.models.bert.config import BertConfig

PRESETS: dict[str, dict] = {
    # small CPU presets (Turc et al. 2019); vocab_size is replaced by the tokenizer's when training
    "bert-tiny": dict(d_model=128, n_heads=2, n_layers=2),
    "bert-mini": dict(d_model=256, n_heads=4, n_layers=4),
    "bert-small": dict(d_model=512, n_heads=8, n_layers=4),
    "bert-medium": dict(d_model=512, n_heads=8, n_layers=8),
    # published sizes (Devlin et al. 2019)
    "bert-base": dict(d_model=768, n_heads=12, n_layers=12),
    "bert-large": dict(d_model=1024, n_heads=16, n_layers=24),
}

# Parameters of BertModel (embeddings + encoder + pooler) of the released checkpoints: exact counts
# of their tensors (vocabulary 30522, 512 positions, 2 segments), the pre-training heads left out.
PUBLISHED: dict[str, int] = {
    "bert-tiny": 4_385_920,       # google/bert_uncased_L-2_H-128_A-2
    "bert-mini": 11_170_560,      # google/bert_uncased_L-4_H-256_A-4
    "bert-small": 28_763_648,     # google/bert_uncased_L-4_H-512_A-8
    "bert-medium": 41_373_184,    # google/bert_uncased_L-8_H-512_A-8
    "bert-base": 109_482_240,     # bert-base-uncased ("110M")
    "bert-large": 335_141_888,    # bert-large-uncased ("340M")
}


def preset(name: str, **overrides) -> BertConfig:
    """The BertConfig of a named preset, with keyword overrides."""
    if name not in PRESETS:
        raise LmlabError(f"unknown preset '{name}'; choose from: {', '.join(PRESETS)}")
    return BertConfig(**{**PRESETS[name], **overrides})


def count_parameters(cfg: BertConfig, pooler: bool = True) -> int:
    """Parameters of a BertModel with this config, from the shapes (no model is built); heads not included."""
    C, F, L = cfg.d_model, cfg.ff_dim, cfg.n_layers
    norm = 2 * C                                            # LayerNorm gain and bias
    emb = (cfg.vocab_size + cfg.max_seq_len + cfg.type_vocab_size) * C + norm
    attn = 4 * (C * C + C)                                  # q, k, v, out projections with biases
    ff = C * F + F + F * C + C
    block = attn + ff + 2 * norm
    final_norm = norm if cfg.norm_first else 0              # Pre-LN only
    return emb + L * block + final_norm + (C * C + C if pooler else 0)


def facts(cfg: BertConfig) -> list[str]:
    """What `lmlab info` adds for BERT: the three embedding tables (tokens, positions, segments)."""
    C = cfg.d_model
    return [f"  embeddings    {(cfg.vocab_size + cfg.max_seq_len + cfg.type_vocab_size) * C:,} (tokens "
            f"{cfg.vocab_size * C:,}, positions {cfg.max_seq_len * C:,}, segments {cfg.type_vocab_size * C:,})"]


def count_qa_parameters(cfg: BertConfig) -> int:
    """Parameters of a BertForQuestionAnswering: the encoder without pooler and the (2, C) start/end head."""
    return count_parameters(cfg, pooler=False) + 2 * cfg.d_model + 2

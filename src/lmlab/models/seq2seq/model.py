"""The encoder-decoder Transformer of Vaswani et al. 2017, "Attention Is All You Need" (§3, Figure 1).

    source ids (B, S) ─ embed·√d_model + sinusoids ─ N × [self-attention, feed-forward] ──► memory (B, S, C)
                                                                                             │ keys, values
    target ids (B, T) ─ embed·√d_model + sinusoids ─ N × [masked self-attention,            ▼
                                                          cross-attention (queries: decoder), feed-forward]
                                                       ─ linear (the target embedding, tied) ──► logits (B, T, V)

The encoder reads the whole source at once (bidirectional). The decoder predicts target token t+1
from the source and target tokens ≤ t: its self-attention is causal, so changing a later target
token cannot change an earlier prediction. Its cross-attention takes queries from the decoder and
keys and values from the encoder output: this is where the source enters the translation.

§3.4: the token embeddings are multiplied by √d_model (their entries are ~N(0, 1/d_model), the
sinusoids' are up to ±1: scaled, both have comparable size) and, with a joint vocabulary, one
matrix serves as source embedding, target embedding and output projection (`share_embeddings`,
`tie_embeddings`). §3.5: fixed sinusoidal positions. §5.4: dropout on every sub-layer output and
on the embedding sums. Post-LN as in the paper; `norm_first` gives Pre-LN with a final norm per stack.

Incremental decoding (lmlab.generate.seq2seq): the encoder runs once per sentence, each decoder
layer's cross-attention keys and values are projected once from its output (`memory_kv`), and the
decoder self-attention keeps a KV cache, so each new target token costs one decoder position.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lmlab.models.seq2seq.config import Seq2SeqConfig
from lmlab.nn.attention import MultiHeadAttention
from lmlab.nn.blocks import DecoderBlock, TransformerBlock
from lmlab.nn.embeddings import SinusoidalPositionalEmbedding
from lmlab.nn.feed_forward import FeedForward
from lmlab.nn.init import xavier_uniform_
from lmlab.nn.kv_cache import KVCache
from lmlab.nn.norms import norm_layer

MemoryKV = list[tuple[torch.Tensor, torch.Tensor]]  # per decoder layer: cross-attention k, v (B, H, S, D)


def _attn(cfg: Seq2SeqConfig, causal: bool) -> MultiHeadAttention:
    return MultiHeadAttention(cfg.d_model, cfg.n_heads, None, cfg.dropout, bias=True, causal=causal,
                              backend=cfg.attn_backend)


def encoder_block(cfg: Seq2SeqConfig) -> TransformerBlock:
    """Bidirectional self-attention + feed-forward."""
    ff = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout, cfg.activation)
    norm = lambda: norm_layer("layernorm", cfg.d_model, cfg.norm_eps)
    return TransformerBlock(_attn(cfg, causal=False), ff, norm(), norm(), norm_first=cfg.norm_first)


def decoder_block(cfg: Seq2SeqConfig) -> DecoderBlock:
    """Masked (causal) self-attention + cross-attention over the encoder output + feed-forward."""
    ff = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout, cfg.activation)
    norm = lambda: norm_layer("layernorm", cfg.d_model, cfg.norm_eps)
    return DecoderBlock(_attn(cfg, causal=True), _attn(cfg, causal=False), ff, norm(), norm(), norm(),
                        norm_first=cfg.norm_first)


@torch.no_grad()
def transformer_init_(model: nn.Module, d_model: int) -> None:
    """Xavier-uniform matrices and zero biases (tensor2tensor's and torch.nn.Transformer's choice);
    embeddings N(0, 1/d_model), so that after the √d_model scale each entry has unit variance."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            xavier_uniform_(m.weight)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, nn.Embedding):
            m.weight.normal_(0.0, d_model ** -0.5)


class Seq2SeqTransformer(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.cfg = cfg
        self.src_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.tgt_emb = self.src_emb if cfg.share_embeddings else nn.Embedding(cfg.target_vocab_size, cfg.d_model)
        self.pos_emb = SinusoidalPositionalEmbedding(cfg.max_seq_len, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = nn.ModuleList(encoder_block(cfg) for _ in range(cfg.n_encoder_layers))
        self.decoder = nn.ModuleList(decoder_block(cfg) for _ in range(cfg.n_decoder_layers))
        # Post-LN blocks end in a norm already; Pre-LN needs one after each stack.
        final_norm = lambda: norm_layer("layernorm", cfg.d_model, cfg.norm_eps) if cfg.norm_first else nn.Identity()
        self.enc_norm, self.dec_norm = final_norm(), final_norm()
        self.lm_head = nn.Linear(cfg.d_model, cfg.target_vocab_size, bias=False)
        transformer_init_(self, cfg.d_model)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.tgt_emb.weight                        # (V, C), one matrix

    def _embed(self, emb: nn.Embedding, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        """ids (B, T) at positions start … start+T-1 -> (B, T, C) = dropout(E[ids]·√d_model + PE)."""
        T = ids.size(1)
        if start + T > self.cfg.max_seq_len:
            raise ValueError(f"sequence of {start + T} tokens is longer than max_seq_len ({self.cfg.max_seq_len})")
        x = emb(ids)
        if self.cfg.scale_embeddings:
            x = x * math.sqrt(self.cfg.d_model)
        return self.drop(x + self.pos_emb(torch.arange(start, start + T, device=ids.device)))

    def encode(self, src_ids: torch.Tensor, src_mask: torch.Tensor | None = None,
               backend: str | None = None) -> torch.Tensor:
        """src_ids (B, S), src_mask (B, S) True = real token -> memory (B, S, C)."""
        x = self._embed(self.src_emb, src_ids)
        for block in self.encoder:
            x = block(x, key_padding_mask=src_mask, backend=backend)
        return self.enc_norm(x)

    def memory_kv(self, memory: torch.Tensor) -> MemoryKV:
        """Each decoder layer's cross-attention keys and values of the encoder output, computed once."""
        return [block.cross_attn.memory_kv(memory) for block in self.decoder]

    def decode(self, tgt_ids: torch.Tensor, memory: torch.Tensor | None, src_mask: torch.Tensor | None = None, *,
               memory_kv: MemoryKV | None = None, cache: KVCache | None = None,
               tgt_mask: torch.Tensor | None = None, last: bool = False, hidden: bool = False,
               backend: str | None = None) -> torch.Tensor:
        """tgt_ids (B, T) -> logits (B, T, V) (or (B, 1, V) with last=True, the states (B, T, C) with hidden=True).

        memory (B, S, C) from `encode`, or memory_kv from `memory_kv(memory)`; src_mask (B, S) hides source
        padding. cache: the decoder self-attention's KVCache; tgt_ids then follow the cached tokens.
        tgt_mask (B, T) hides target padding as keys; with right-padded targets it changes nothing
        (the causal mask already keeps every real token from seeing the pads after it).
        """
        past = cache.length if cache is not None else 0
        x = self._embed(self.tgt_emb, tgt_ids, start=past)
        for i, block in enumerate(self.decoder):
            x = block(x, memory, memory_kv=None if memory_kv is None else memory_kv[i], memory_mask=src_mask,
                      cache=None if cache is None else cache[i], key_padding_mask=tgt_mask, backend=backend)
        if last:
            x = x[:, -1:]
        x = self.dec_norm(x)
        return x if hidden else self.lm_head(x)

    def forward(self, src_ids: torch.Tensor, tgt_ids: torch.Tensor, src_mask: torch.Tensor | None = None,
                tgt_mask: torch.Tensor | None = None, *, backend: str | None = None) -> torch.Tensor:
        """Teacher forcing: src_ids (B, S), tgt_ids (B, T) = [BOS] y_1 … y_{T-1} -> logits (B, T, V) for
        y_1 … y_T. Masks (B, S) / (B, T): True = real token (None: no padding)."""
        return self.decode(tgt_ids, self.encode(src_ids, src_mask, backend), src_mask, tgt_mask=tgt_mask,
                           backend=backend)

    def new_cache(self, batch: int, max_len: int | None = None, dtype: torch.dtype | None = None) -> KVCache:
        """An empty decoder self-attention cache for `batch` targets of up to `max_len` tokens."""
        p = self.lm_head.weight
        return KVCache.for_model(self.cfg, batch, max_len, dtype or p.dtype, p.device)

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Unique parameters (a shared matrix is counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

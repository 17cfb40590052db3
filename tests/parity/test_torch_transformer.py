"""lmlab's encoder-decoder against torch.nn.Transformer with the same weights (Post-LN and Pre-LN).

torch.nn.Transformer is the field's reference for the architecture of Vaswani et al. 2017. It has
no embeddings or output layer, so both are fed lmlab's embedded inputs and torch's output goes
through lmlab's (tied) projection. Its stacks always end in a LayerNorm; for Post-LN (the paper,
where each block already ends in one) those are removed.
"""

import pytest
import torch
from torch import nn

from lmlab.models.seq2seq import Seq2SeqConfig, Seq2SeqTransformer


def copy_attention(ref: nn.MultiheadAttention, ours) -> None:
    ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
    ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
    ref.out_proj.weight.copy_(ours.out_proj.weight)
    ref.out_proj.bias.copy_(ours.out_proj.bias)


def copy_ff(ref, ours) -> None:
    ref.linear1.load_state_dict(ours.ff.up.state_dict())
    ref.linear2.load_state_dict(ours.ff.down.state_dict())


def copy_weights(ref: nn.Transformer, ours: Seq2SeqTransformer, norm_first: bool) -> None:
    for r, o in zip(ref.encoder.layers, ours.encoder):
        copy_attention(r.self_attn, o.attn)
        copy_ff(r, o)
        r.norm1.load_state_dict(o.norm1.state_dict())
        r.norm2.load_state_dict(o.norm2.state_dict())
    for r, o in zip(ref.decoder.layers, ours.decoder):
        copy_attention(r.self_attn, o.self_attn)
        copy_attention(r.multihead_attn, o.cross_attn)
        copy_ff(r, o)
        for i in (1, 2, 3):
            getattr(r, f"norm{i}").load_state_dict(getattr(o, f"norm{i}").state_dict())
    if norm_first:
        ref.encoder.norm.load_state_dict(ours.enc_norm.state_dict())
        ref.decoder.norm.load_state_dict(ours.dec_norm.state_dict())
    else:
        ref.encoder.norm = ref.decoder.norm = None


@pytest.mark.filterwarnings("ignore:enable_nested_tensor")
@pytest.mark.parametrize("norm_first", [False, True])
def test_matches_torch_nn_transformer(norm_first):
    torch.manual_seed(0)
    cfg = Seq2SeqConfig(vocab_size=60, d_model=32, n_heads=4, d_ff=64, n_encoder_layers=2, n_decoder_layers=3,
                        max_seq_len=32, dropout=0.0, norm_first=norm_first)
    ours = Seq2SeqTransformer(cfg).eval()
    ref = nn.Transformer(32, 4, 2, 3, 64, dropout=0.0, batch_first=True, norm_first=norm_first).eval()
    with torch.no_grad():
        for p in ours.parameters():  # non-trivial norms and biases, so a swapped one would show
            if p.dim() == 1:
                p.add_(torch.randn_like(p) * 0.1)
        copy_weights(ref, ours, norm_first)
    src, tgt = torch.randint(0, 60, (3, 9)), torch.randint(0, 60, (3, 7))
    src_mask = torch.ones(3, 9, dtype=torch.bool)
    src_mask[1, 6:], src_mask[2, 4:] = False, False
    with torch.no_grad():
        logits = ours(src, tgt, src_mask)
        x_src, x_tgt = ours._embed(ours.src_emb, src), ours._embed(ours.tgt_emb, tgt)
    causal = nn.Transformer.generate_square_subsequent_mask(7)
    # with gradients enabled torch takes its plain path (no nested-tensor fast path, which zeroes pads)
    out = ref(x_src, x_tgt, tgt_mask=causal, src_key_padding_mask=~src_mask, memory_key_padding_mask=~src_mask)
    torch.testing.assert_close(logits, ours.lm_head(out), atol=1e-5, rtol=1e-5)

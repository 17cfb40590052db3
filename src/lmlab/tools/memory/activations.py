"""What autograd saves for backward during a GPT's training step: `activation_bytes`, item by item.

The items are read off lmlab's code (nn/blocks.py, nn/attention.py, nn/feed_forward.py,
ops/attention.py, train/objectives.py) and checked tensor by tensor with
torch.autograd.graph.saved_tensors_hooks. One Pre-LN GPT block with the default attention (sdpa),
values per token (B·T tokens; C = d_model, C_kv = n_kv_heads·head_dim, F = d_ff, H = n_heads):

    LayerNorm 1   its input x, the residual stream                      C
                  mean and 1/std                                        2
    q, k, v       their shared input, LayerNorm 1's output              C
    attention     q, k, v                                               C + 2·C_kv
                  output (which is also out_proj's input), logsumexp    C + H
    LayerNorm 2   its input x + attn(…), mean and 1/std                 C + 2
    FF up         its input, LayerNorm 2's output                       C
    GELU          its input (FF up's output)                            F
    FF down       its input (GELU's output)                             F
                                                                        ---------------------------
                                                            per layer:  6·C + 2·C_kv + 2·F + H + 4
                                                  = 16·C + H + 4 values for MHA and F = 4·C

so 4·(16·C + H + 4) bytes per token and layer in fp32. Korthikanti et al. 2022 ("Reducing
Activation Recomputation in Large Transformer Models") count 34·C + 5·H·T bytes in fp16: the same
16·C values at 2 bytes, 1-byte dropout masks (2·C), and for unfused attention the T×T probabilities,
their dropout mask and the dropped probabilities (5·H·T). sdpa, like FlashAttention, saves only the
output and one logsumexp per head and row and recomputes the probabilities in backward. The rest:
- naive attention saves q·scale, k and v copied to all H heads (matmul folds the batch dimensions),
  the T×T probabilities (H·T per token), the merged heads (out_proj's input) and a T×T bool mask
  per layer: 4·C + H·T instead of 3·C + 2·C_kv + H. The flash backend saves what sdpa saves; bmm saves
  its own per-head copies of q, k, v, the T×T probabilities and the merged heads: 2·C + 2·C_kv + H·T
  (ops/bmm_attention.py). `auto` is counted as the backend it chose here for this kind of call, once
  measured (sdpa before that);
- SwiGLU saves the gate's output, SiLU's output, up's output and their product (4·F); ReLU saves
  only its output (F); RMSNorm, computed in fp32, saves its fp32 input, 1/RMS and the normalised y
  (C + 1 + C, and its output C for the next linear layer); rotary embeddings add the gathered
  cos/sin tables (4·T·head_dim fp32 values per layer);
- under autocast the residual stream and the norms stay fp32 (the embedding is fp32 and fp32 + bf16
  is fp32), the rest is bf16, and every linear layer saves its own bf16 copy of its input: SwiGLU's
  gate and up cast LayerNorm 2's output twice; q, k and v cast LayerNorm 1's output once in full
  training (one product against the stacked weights, whose fp32 concatenation is saved when not under
  autocast), three times with LoRA;
- a frozen linear layer (LoRA) saves no input: it needs its input only for its weight's gradient.
  The FF then keeps only the activation's input; each adapter saves its input and r values (A·x).
- Post-LN blocks (GPT-1) save the same values in another order, and need no final norm.
After the last block: the final norm, the LM head's input (C), the logits the cross-entropy keeps
for its backward and one logsumexp a row (V + 1 values, fp32 since the objective takes the loss in
fp32: the biggest item when V is large; ops/losses.py writes no log-probabilities), with the
index it gathers by and its ignore_index mask (9 bytes a token), and the batch
(input ids and labels, int64: 16 bytes a token).

Activation checkpointing (Chen et al. 2016) keeps only each block's input (C values per token and
layer) and recomputes a block's forward pass during its backward, so one block's activations exist
at a time: L·C + (one block) instead of L·(one block).
"""

from __future__ import annotations

from dataclasses import dataclass

from lmlab.ops.attention import training_backend
from lmlab.tools.memory.sizes import DTYPE_BYTES, Item, block_matrix_parameters


@dataclass
class Activations:
    """What activation_bytes finds: the bill's activation lines, and the pieces training_bill's moments need."""
    items: list[Item]         # the bill's activation lines, bytes for the whole batch
    per_layer: float          # one block's saved tensors, bytes
    per_layer_token: float    # of which, bytes per token
    head: float               # saved after the last block (freed by the loss head's backward)
    head_norm: float          # of which, the final norm's
    first_less: float         # what the first block does not save (LoRA: nothing before it needs a gradient)
    kept: float               # what the blocks keep until backward (all of them, or their inputs)
    forward_extra: float      # alive only during the forward pass (autocast's cache under checkpointing)
    a: int                    # bytes of one activation value
    r: int                    # bytes of one value of the residual stream

    @property
    def saved(self) -> float:
        """The most saved at once: all blocks (or their inputs plus one recomputed block) + head + batch."""
        return sum(i.bytes for i in self.items)


def activation_bytes(cfg, batch: int, seq_len: int, *, dtype: str = "fp32", mixed: bool = False,
                     method: str = "full", lora_rank: int = 8, checkpointing: bool = False,
                     backend: str | None = None) -> Activations:
    """What autograd saves during one forward pass of a GPT, item by item (module docstring)."""
    C, F, H, V, L = cfg.d_model, cfg.ff_dim, cfg.n_heads, cfg.vocab_size, cfg.n_layers
    kv = cfg.kv_heads * cfg.head_dim
    N, T = batch * seq_len, seq_len
    frozen = method != "full"                   # LoRA / QLoRA: base weights without gradient
    mixed = mixed and not frozen                # a frozen 16-bit base computes in 16 bits anyway
    a = 2 if mixed else DTYPE_BYTES[dtype]      # an activation value
    r = 4 if mixed else a                       # the residual stream (fp32 under autocast)
    backend = backend or cfg.attn_backend
    if backend == "auto":   # what auto chose for this kind of call on this machine, if it has measured it
        backend = training_backend(cfg.head_dim, seq_len, "bf16" if mixed else dtype, window=cfg.attn_window)
    rms = cfg.norm == "rmsnorm"
    per_tok: list[tuple[str, float, str]] = []  # (name, bytes per token, in values)
    first_less = 0.0  # bytes per token

    def norm(name: str, consumers: int, output_saved: bool) -> None:
        nonlocal first_less
        if rms:
            per_tok.append((f"{name}: input (fp32), 1/RMS", 4 * (C + 1), "C + 1, fp32"))
            if not frozen:  # y is saved for the gain's gradient
                per_tok.append((f"{name}: normalised y", C * r, "C"))
        else:
            per_tok.append((f"{name}: input (the residual stream), mean, 1/std", r * (C + 2), "C + 2"))
        if frozen and name.endswith("1"):  # a frozen embedding: the first norm's input needs no gradient
            first_less = per_tok[-1][1]
        if output_saved:  # by the next linear layer(s); autocast casts it once per layer
            n = consumers if mixed else 1
            per_tok.append((f"{name}: output (input of the next linear layer)", n * C * a,
                            f"{n} bf16 copies × C" if n > 1 else "C"))

    # attention sub-layer (LoRA: the adapters on q, k, v save the norm's output). Full training computes q, k, v
    # by one product against the three weights stacked (nn/attention.py): one input copy under autocast, and
    # the stacked weight saved for the input's gradient (in fp32 a new tensor; under autocast its bf16 cast
    # replaces the three cached casts, the same bytes)
    stacked = not frozen
    norm("RMSNorm 1" if rms else "LayerNorm 1", 1 if stacked else 3, True)
    if frozen:
        per_tok.append(("LoRA: A·x of the q, k, v, o adapters", 4 * lora_rank * a, "4·r"))
    if backend == "naive":
        per_tok.append(("q·scale, k and v copied to all heads", 3 * C * a, "3·C"))
        per_tok.append(("attention probabilities, T per head", H * T * a, "H·T"))
        per_tok.append(("merged heads (out_proj input)", C * a, "C"))
    else:  # sdpa and flash save q, k, v as they are; bmm its own copies (B·H_kv, T, D), freeing the product's output
        bmm = backend == "bmm"
        per_tok.append(("q, k, v" + (" (rotated)" if cfg.pos_embedding == "rotary" else "")
                        + (", copied per head" if bmm else ""), (C + 2 * kv) * a, "C + 2·C_kv"))
        if stacked and cfg.pos_embedding == "rotary" and not bmm:  # v is a view of the one product's output
            per_tok.append(("q, k before rotation (they share v's storage)", (C + kv) * a, "C + C_kv"))
        per_tok.append(("attention output (out_proj input)", C * a, "C"))
        per_tok.append(("attention probabilities, T per head", H * T * a, "H·T") if bmm
                       else ("logsumexp per head (fp32)", H * 4, "H"))
    # feed-forward sub-layer (LoRA: frozen up/down keep nothing)
    gated = cfg.activation == "swiglu"
    norm("RMSNorm 2" if rms else "LayerNorm 2", 2 if gated else 1, not frozen)
    if gated:
        n = 3 if frozen else 4
        per_tok.append(("SwiGLU: gate, SiLU(gate), up" + ("" if frozen else ", product"), n * F * a, f"{n}·F"))
    elif cfg.activation == "relu":
        per_tok.append(("ReLU output (for ReLU and FF down)", F * a, "F"))
    else:
        n = 1 if frozen else 2
        per_tok.append(("GELU input" + ("" if frozen else " and output (FF down input)"), n * F * a, f"{n}·F"))
    layer_token = sum(b for _, b, _ in per_tok)

    fixed: list[Item] = []  # per-layer items that do not grow with the batch
    if backend == "naive":
        fixed.append(Item("attention mask (bool, T×T per layer)", L * (T * T + T), "L · T² bytes"))
    if cfg.pos_embedding == "rotary":
        fixed.append(Item("rotary cos, sin for q and k (fp32)", L * 16 * T * cfg.head_dim, "L · 4·T·head_dim"))
    qkv_weights = L * (C + 2 * kv) * C  # values
    if stacked and not mixed:
        fixed.append(Item("q, k, v weights stacked for one product", qkv_weights * a, "L · (C + 2·C_kv)·C"))
    if mixed:
        fixed.append(Item("autocast's bf16 copies of the block matrices", 2 * block_matrix_parameters(cfg),
                          "2 B × block matrices"))
    per_layer = layer_token * N + sum(i.bytes for i in fixed) / L

    if checkpointing:
        items = [Item("block inputs, kept by checkpointing", L * C * r * N, f"L · B·T · C × {r} B"),
                 Item("one block, recomputed in its backward", per_layer, f"B·T × {layer_token:,.0f} B")]
        kept = L * C * r * N
    else:
        paren = lambda vals: f"({vals})" if "+" in vals else vals
        items = [Item(name, L * N * b, f"L · B·T · {paren(vals)}") for name, b, vals in per_tok] + fixed
        if first_less:
            items[0] = Item(items[0].name, (L - 1) * N * first_less, f"(L − 1) · B·T · {paren(per_tok[0][2])}")
        kept = L * per_layer
    if not cfg.norm_first:  # Post-LN: the last block ends in its norm, there is no final one
        head = []
    elif rms:
        head = [Item("final RMSNorm: input (fp32), 1/RMS" + ("" if frozen else ", y"),
                     N * (4 * (C + 1) + (0 if frozen else C * r)), "B·T · (C + 1" + (")" if frozen else " + C)"))]
    else:
        head = [Item("final LayerNorm: input, mean, 1/std", N * r * (C + 2), "B·T · (C + 2)")]
    if not frozen:
        head.append(Item("LM head input (final norm output)", N * C * a, "B·T · C"))
    if mixed:
        head.append(Item("autocast's bf16 copy of the LM head matrix", 2 * V * C, "2 B × V·C"))
    head.append(Item("the cross-entropy's fp32 logits and a logsumexp a row", N * (V + 1) * 4, "B·T · (V + 1) × 4 B"))
    head.append(Item("cross-entropy's gather index and ignore mask", N * 9, "B·T · (8 + 1) B"))
    positions = 8 * T if cfg.pos_embedding == "learned" and not frozen else 0
    items += head + [Item("batch: input ids + labels (int64)", N * 16 + positions, "B·T · 2 × 8 B")]
    if backend == "bmm":  # one additive causal mask (0 / −∞) for every layer and step, kept by the backend
        G = H // cfg.kv_heads
        items.append(Item("bmm attention's additive mask (shared)", G * T * T * a, "G·T² values"))
    # under checkpointing autocast's copies of the other blocks' matrices exist until forward ends
    # (the stacked q, k, v cast is not cached: it is freed with its block's forward)
    cached = block_matrix_parameters(cfg) - (qkv_weights if stacked else 0)
    extra = (L - 1) / L * 2 * cached if checkpointing and mixed else 0.0
    return Activations(items, per_layer, layer_token, sum(i.bytes for i in head), head[0].bytes if head else 0.0,
                       N * first_less, kept - (0 if checkpointing else N * first_less), extra, a, r)

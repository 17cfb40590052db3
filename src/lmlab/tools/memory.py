"""The memory bill of training: parameters, gradients, optimizer states, activations.

Notes V.3 ("LLM 训练中的显存占用分析", the "显存账单"): a 7B model in half precision (2 bytes a
parameter) needs 7B × 2 = 14 GB for its weights (模型参数), 14 GB for its gradients (梯度), and
AdamW keeps two states per parameter, the first and second moment (优化器状态), 14 GB × 2 = 28 GB;
activations (激活值) come on top and grow with batch size, sequence length and depth. LoRA and
QLoRA train only small adapters, so their gradients and optimizer states almost vanish, and QLoRA
also stores the frozen base in 4 bits. `training_bill` computes the bill for a GPT config (or a
bare parameter count) and `lmlab memory` prints it. GB is 10⁹ bytes, as in the notes; GiB (2³⁰
bytes, what `nvidia-smi` and most tools call "GB") is shown beside it: 14 GB = 13.04 GiB.

Precision. `dtype` is what everything is stored in: weights, gradients, optimizer states and
activations all fp32, or all bf16/fp16 (the notes' accounting). `mixed=True` is mixed precision
as lmlab's Trainer does it (`lmlab train gpt --dtype bf16`): autocast runs the matrix products in
bf16/fp16 while the weights ("master weights"), gradients and optimizer states stay fp32, 4 + 4 +
8 = 16 bytes a parameter with AdamW. Autocast also makes a bf16 working copy of every weight matrix
it multiplies (2 bytes a parameter), which lives from the forward pass until backward has used it;
it is counted with the activations. With LoRA/QLoRA the frozen base is stored in `dtype` (no master
copy: it is never updated) and `mixed` keeps only the adapters in fp32.

Optimizer states per trainable parameter (`OPTIMIZER_STATES`): SGD 0; momentum / Nesterov 1 (the
velocity); AdaGrad 1 (sum of squared gradients); RMSProp 1 (running mean of g²), 2 with momentum;
Adam / AdamW 2 (m, v); FTRL 2 (z, n). Stored like the weights (fp32 under mixed precision).

LoRA (Hu et al. 2021) freezes every base weight (no gradient, no optimizer state) and trains B·A
beside the query, key, value and output projections of every block, r·(d_in + d_out) parameters
each: L·r·(6·C + 2·C_kv). QLoRA (Dettmers et al. 2023) stores the block matrices in NF4: a 4-bit
code plus one fp32 absmax per block of 64 weights, 4 + 32/64 = 4.5 bits a weight, or 4 + 8/64 +
32/(64·256) ≈ 4.127 bits with double quantisation (the absmax values quantised to 8 bits, one fp32
constant per 256 of them). Embeddings, norms, biases and the LM head stay in `dtype`; a matrix is
dequantised to 16 bits only while it is used (one at a time, counted in the peak).

Activations: what autograd saves for backward, read off lmlab's code (nn/blocks.py, nn/attention.py,
nn/feed_forward.py, ops/attention.py, train/objectives.py) and checked tensor by tensor with
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
  per layer: 4·C + H·T instead of 3·C + 2·C_kv + H. The flash backend saves what sdpa saves;
- SwiGLU saves the gate's output, SiLU's output, up's output and their product (4·F); ReLU saves
  only its output (F); RMSNorm, computed in fp32, saves its fp32 input, 1/RMS and the normalised y
  (C + 1 + C, and its output C for the next linear layer); rotary embeddings add the gathered
  cos/sin tables (4·T·head_dim fp32 values per layer);
- under autocast the residual stream and the norms stay fp32 (the embedding is fp32 and fp32 + bf16
  is fp32), the rest is bf16, and every linear layer saves its own bf16 copy of its input: q, k
  and v cast LayerNorm 1's output three times, SwiGLU's gate and up LayerNorm 2's twice;
- a frozen linear layer (LoRA) saves no input: it needs its input only for its weight's gradient.
  The FF then keeps only the activation's input; each adapter saves its input and r values (A·x).
- Post-LN blocks (GPT-1) save the same values in another order, and need no final norm.
After the last block: the final norm, the LM head's input (C), the log-probabilities of the
cross-entropy (V values, fp32 since the objective takes the loss in fp32: the biggest item when V
is large) with the index it gathers by and its ignore_index mask (9 bytes a token), and the batch
(input ids and labels, int64: 16 bytes a token).

Activation checkpointing (Chen et al. 2016) keeps only each block's input (C values per token and
layer) and recomputes a block's forward pass during its backward, so one block's activations exist
at a time: L·C + (one block) instead of L·(one block).

The peak. The four parts never all exist at once: with `zero_grad(set_to_none=True)` (lmlab's
Trainer) there are no gradients during the forward pass, and backward frees a block's activations
as it creates that block's gradients. `training_bill` follows one step after the first (the
optimizer states exist then) through seven moments, and the largest is the peak:

    1 end of forward       weights + states + activations + the logits (and their fp32 copy)
    2 loss backward        weights + states + activations + 2 × B·T·V fp32 (gradients of the
                           log-probabilities and of the logits)
    3 final norm backward  weights + states + activations − the head's (but the norm's) + the LM
                           head's gradient + the norm's temporaries (lmlab's RMSNorm is written
                           out: its backward makes four B·T·C fp32 tensors)
    4 last block backward  weights + states + activations − the head's + the LM head's gradient
                           + the gradients flowing through the FF (B·T·(C + F), 2·F for ReLU and
                           SwiGLU) + FF down's weight gradient (+ the block, recomputed)
    5 first block backward weights + states + gradients of the L − 1 blocks above + one block's
                           activations + the same flowing gradients
    6 end of backward      weights + states + gradients (+ 2·V·C for tied embeddings: the two
                           gradients of the shared matrix are summed out of place)
    7 optimizer step       weights + states + gradients (fused AdamW makes no temporaries)

In full fp32 training on the CPU, lmlab's linear layers take their weight gradient gᵀx through oneDNN
from transposed copies of g and x (lmlab.ops.linear), B·T·(C + F) fp32 values more in moments 4 and 5.
Usually 2 wins when V is large, 4 when the activations outweigh the gradients, 5 under
checkpointing and 6 when the weights outweigh the activations (small batches). So the notes' sum
of the four is not the peak: it counts gradients that do not exist yet, and misses the logits'
gradients, which for GPT-2's 50,257-token vocabulary are often the largest thing in memory.

`measure_training_peak` measures the same thing on real training steps: the largest total size of
live tensors, counted exactly by a TorchDispatchMode that sees every tensor an operator creates and
a weakref finalizer that sees it freed. That is the quantity torch.cuda.max_memory_allocated
reports on a GPU; a process's resident memory is larger and noisier (the allocator's caches, the
Python runtime, libraries). benchmarks/memory_bill.py compares prediction and measurement: on
CPU the two agree within 3 % for every config it runs (most to the byte, since every saved tensor
is accounted for). Limits: dropout is taken as 0 (lmlab's presets; p > 0 adds a 1-byte mask per
dropped element); the pure-PyTorch flash backend's backward makes fp32 copies of q, k, v and dO
that the estimate leaves out (about 10 % under with bf16); the items are read off lmlab on CPU,
and on CUDA sdpa picks its kernel by dtype and shape (fp32 with GQA falls back to the math
kernel, which keeps the T×T probabilities) and autocast keeps LayerNorm in fp32, so the estimate
can be low there; max_memory_allocated also counts cuBLAS's workspaces (about 65 MiB on an H100).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
OPTIMIZER_STATES = {  # extra values an optimizer keeps for every trainable parameter
    "sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "rmsprop-momentum": 2,
    "adam": 2, "adamw": 2, "ftrl": 2,
}
_STATE_NAMES = {"momentum": "velocity", "nesterov": "velocity", "adagrad": "Σg²", "rmsprop": "mean g²",
                "rmsprop-momentum": "mean g², velocity", "adam": "m, v", "adamw": "m, v", "ftrl": "z, n"}
METHODS = ("full", "lora", "qlora")
NF4_BITS = 4 + 32 / 64                                # 4-bit code + one fp32 absmax per 64 weights = 4.5
NF4_DOUBLE_QUANT_BITS = 4 + 8 / 64 + 32 / (64 * 256)  # absmax in 8 bits + one fp32 per 256 ≈ 4.127
GB, GiB = 1e9, 2**30


@dataclass(frozen=True)
class Item:
    """One line of the bill: a name, its size in bytes, and how it was computed."""
    name: str
    bytes: float
    formula: str


@dataclass
class Bill:
    title: str
    params: Item
    grads: Item
    optimizer: Item
    activations: Item | None = None         # None: no architecture given, so no activation estimate
    activation_items: list[Item] = field(default_factory=list)
    moments: list[Item] = field(default_factory=list)
    peak: Item | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[Item]:
        return [r for r in (self.params, self.grads, self.optimizer, self.activations) if r is not None]

    @property
    def total(self) -> float:
        """The notes' sum of the four. Not the peak: that lacks the gradients not made yet and has
        the short-lived tensors of backward (the logits' gradients) that the sum lacks."""
        return sum(r.bytes for r in self.rows)


def _h(n: float) -> str:
    """1234567 -> '1.23M' (counts of parameters, tokens, bytes)."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:g}"


# ---- parameters of the pieces that LoRA and QLoRA treat differently -------------------------------
def block_matrix_parameters(cfg) -> int:
    """Weights of the linear layers inside the blocks (what QLoRA quantises): attention + FF matrices."""
    C, kv = cfg.d_model, cfg.kv_heads * cfg.head_dim
    n_mats = 3 if cfg.activation == "swiglu" else 2
    return cfg.n_layers * (2 * C * C + 2 * C * kv + n_mats * C * cfg.ff_dim)


def lora_parameters(cfg, rank: int) -> int:
    """B·A beside q, k, v and out_proj of every block, r·(d_in + d_out) each."""
    C, kv = cfg.d_model, cfg.kv_heads * cfg.head_dim
    return cfg.n_layers * rank * ((C + C) + 2 * (C + kv) + (C + C))


def layer_parameters(cfg) -> int:
    """Parameters of one block (count_parameters' difference between 2 and 1 layers)."""
    from lmlab.models.gpt.presets import count_parameters
    return count_parameters(dataclasses.replace(cfg, n_layers=2)) - count_parameters(
        dataclasses.replace(cfg, n_layers=1))


# ---- activations ---------------------------------------------------------------------------------
@dataclass
class Activations:
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

    # attention sub-layer (LoRA: the adapters on q, k, v save the norm's output)
    norm("RMSNorm 1" if rms else "LayerNorm 1", 3, True)
    if frozen:
        per_tok.append(("LoRA: A·x of the q, k, v, o adapters", 4 * lora_rank * a, "4·r"))
    if backend == "naive":
        per_tok.append(("q·scale, k and v copied to all heads", 3 * C * a, "3·C"))
        per_tok.append(("attention probabilities, T per head", H * T * a, "H·T"))
        per_tok.append(("merged heads (out_proj input)", C * a, "C"))
    else:  # sdpa and flash
        per_tok.append(("q, k, v" + (" (rotated)" if cfg.pos_embedding == "rotary" else ""), (C + 2 * kv) * a,
                        "C + 2·C_kv"))
        per_tok.append(("attention output (out_proj input)", C * a, "C"))
        per_tok.append(("logsumexp per head (fp32)", H * 4, "H"))
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
    head.append(Item("log-probabilities for the cross-entropy (fp32)", N * V * 4, "B·T · V × 4 B"))
    head.append(Item("cross-entropy's gather index and ignore mask", N * 9, "B·T · (8 + 1) B"))
    positions = 8 * T if cfg.pos_embedding == "learned" and not frozen else 0
    items += head + [Item("batch: input ids + labels (int64)", N * 16 + positions, "B·T · 2 × 8 B")]
    # under checkpointing autocast's copies of the other blocks' matrices exist until forward ends
    extra = (L - 1) / L * 2 * block_matrix_parameters(cfg) if checkpointing and mixed else 0.0
    return Activations(items, per_layer, layer_token, sum(i.bytes for i in head), head[0].bytes if head else 0.0,
                       N * first_less, kept - (0 if checkpointing else N * first_less), extra, a, r)


def _onednn_linear() -> bool:
    """Whether lmlab's fp32 linear layers take the oneDNN path (lmlab.ops.linear) in this process."""
    from lmlab.ops import linear
    return linear.onednn_available() and linear._kernel != "torch"


# ---- the bill ------------------------------------------------------------------------------------
def training_bill(cfg=None, *, params: float | None = None, batch: int = 8, seq_len: int | None = None,
                  dtype: str = "fp32", mixed: bool = False, optimizer: str = "adamw", method: str = "full",
                  lora_rank: int = 8, double_quant: bool = False, checkpointing: bool = False,
                  backend: str | None = None, name: str = "") -> Bill:
    """The memory bill of one training step of a GPT (`cfg`, a GPTConfig) or of `params` parameters.

    With `params` alone there is no architecture: no activations, LoRA or QLoRA. With both, `params`
    is the parameter count and `cfg` gives the shapes. Raises ValueError on impossible settings."""
    from lmlab.models.gpt.presets import count_parameters

    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_BYTES)}, got '{dtype}'")
    if mixed and dtype == "fp32":
        raise ValueError("mixed precision computes in bf16 or fp16: give dtype bf16 or fp16 with it")
    if optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZER_STATES)}, got '{optimizer}'")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got '{method}'")
    if cfg is None and params is None:
        raise ValueError("give a model config or a parameter count")
    if method != "full" and cfg is None:
        raise ValueError(f"{method} needs the architecture (where the adapters go): a preset, or d_model "
                         "and n_layers")
    if params is not None and params <= 0:
        raise ValueError(f"the parameter count must be positive, got {params:g}")
    if batch <= 0 or (seq_len is not None and seq_len <= 0) or lora_rank <= 0:
        raise ValueError("batch, seq_len and lora_rank must be positive")

    P = int(params) if params is not None else count_parameters(cfg)
    b = DTYPE_BYTES[dtype]
    w = 4 if mixed else b                 # trainable weights, their gradients and states
    k = OPTIMIZER_STATES[optimizer]
    full = method == "full"
    if full:
        trainable = P
        params_item = Item("parameters", P * w, f"{_h(P)} × {w} B ({'fp32 master weights' if mixed else dtype})")
    else:
        trainable = lora_parameters(cfg, lora_rank)
        if method == "lora":
            base, how = P * b, f"{_h(P)} frozen × {b} B"
        else:
            q = min(block_matrix_parameters(cfg), P)
            bits = NF4_DOUBLE_QUANT_BITS if double_quant else NF4_BITS
            base, how = q * bits / 8 + (P - q) * b, f"{_h(q)} NF4 × {bits:.4g} bits + {_h(P - q)} × {b} B"
        params_item = Item("parameters", base + trainable * w, f"{how} + {_h(trainable)} LoRA × {w} B")
    grads = Item("gradients", trainable * w, f"one per trainable parameter: {_h(trainable)} × {w} B")
    states = f"{k} ({_STATE_NAMES[optimizer]}) × " if k else "0 × "
    opt = Item("optimizer states", trainable * w * k, f"{states}{_h(trainable)} × {w} B ({optimizer})")

    what = {"full": "full training", "lora": f"LoRA r={lora_rank}",
            "qlora": f"QLoRA r={lora_rank}" + (", double quant" if double_quant else "")}[method]
    prec = f"{dtype} mixed precision" if mixed else dtype
    bill = Bill(f"{name or _h(P) + ' parameters'}, {what}, {prec}, {optimizer}", params_item, grads, opt)
    if k and b == 2 and not mixed:
        bill.notes.append(f"the optimizer states are kept in {dtype} as in the notes' example; mixed-precision "
                          "training (--mixed) keeps them, the gradients and fp32 master weights in fp32: "
                          f"{4 + 4 + 4 * k} bytes a parameter instead of {2 + 2 + 2 * k}")
    if cfg is None:
        bill.notes.append("activations omitted: they depend on the architecture; give --preset, or "
                          "--d-model and --n-layers")
        return bill

    T = seq_len or cfg.max_seq_len
    if T > cfg.max_seq_len and cfg.pos_embedding == "learned":
        bill.notes.append(f"--seq-len {T} is longer than the model's {cfg.max_seq_len} learned positions")
    act = activation_bytes(cfg, batch, T, dtype=dtype, mixed=mixed, method=method, lora_rank=lora_rank,
                           checkpointing=checkpointing, backend=backend)
    N = batch * T
    bill.title += f", batch {batch} × {T} tokens" + (", checkpointing" if checkpointing else "")
    blocks = (f"{cfg.n_layers} block inputs + one block" if checkpointing
              else f"{cfg.n_layers} layers × {_h(N)} tokens × {act.per_layer_token:,.0f} B")
    bill.activations = Item("activations", act.saved, f"{blocks} + head (log-probs B·T·V × 4 B) + batch")
    bill.activation_items = act.items

    # the peak: seven moments of a training step (module docstring)
    W, S, G = params_item.bytes, opt.bytes, grads.bytes
    V, C, F, L = cfg.vocab_size, cfg.d_model, cfg.ff_dim, cfg.n_layers
    a, r = act.a, act.r
    saved = act.saved - (act.per_layer if checkpointing else 0.0)  # the recomputed block is not there yet
    rest = saved - act.head - act.kept                               # the batch and the like
    logits = N * V * (a + (4 if a < 4 else 0))   # logits, and their fp32 copy when they are 16-bit
    head_grad = V * C * w if full else 0.0
    # F-sized gradients alive at once in the FF's backward, less the saved input of FF down it frees
    # first (ReLU keeps its output for itself; a frozen FF down saves nothing to free)
    k_ff = (2 if cfg.activation in ("relu", "swiglu") else 1) + (0 if full or cfg.activation == "relu" else 1)
    flowing = N * (C * r + k_ff * F * a) + (F * C * w if full else 0.0)
    if method == "qlora":
        flowing += 2 * C * max(F, C)             # one matrix dequantised to 16 bits
    if full and b == 4 and not mixed and _onednn_linear():
        # lmlab's fp32 CPU linear (ops/linear.py, oneDNN) takes the weight gradient gᵀx from transposed
        # contiguous copies of g and x: B·T·(C + F) fp32 values alive while FF down's gradient is made
        flowing += N * (C + F) * 4
    recomputed = act.per_layer - N * C * r if checkpointing else 0.0  # its input is already kept
    layer_grads = (layer_parameters(cfg) if full else lora_parameters(
        dataclasses.replace(cfg, n_layers=1), lora_rank)) * w
    tied = 2 * V * C * w if full and cfg.tie_embeddings else 0.0
    # lmlab's RMSNorm is written out, so its backward is several ops with a (B, T, C) fp32 temporary each
    norm_tmp = 4 * N * C * 4 if cfg.norm == "rmsnorm" else 2 * N * C * r
    bill.moments = [
        Item("end of forward", W + S + saved + act.forward_extra + logits,
             "weights + states + activations + logits"),
        Item("backward through the loss", W + S + saved + 8 * N * V,
             "weights + states + activations + 2 × B·T·V × 4 B"),
        Item("backward through the final norm", W + S + saved - act.head + act.head_norm + head_grad + norm_tmp,
             "… − head + its norm + LM-head gradient + the norm's gradient temporaries"),
        Item("backward through the last block", W + S + saved - act.head + head_grad + flowing + recomputed,
             "… − head + LM-head gradient + B·T·(C + F) flowing" + (" + recomputed block" if checkpointing else "")),
        Item("backward through the first block", W + S + head_grad + (L - 1) * layer_grads + rest
             + act.per_layer - act.first_less + flowing, "weights + states + L − 1 blocks' gradients + one block + flowing"),
        Item("end of backward", W + S + G + tied,
             "weights + states + gradients" + (" + 2·V·C (tied embedding's two gradients)" if tied else "")),
        Item("optimizer step", W + S + G, "weights + states + gradients"),
    ]
    top = max(bill.moments, key=lambda m: m.bytes)
    bill.peak = Item("peak (estimated)", top.bytes, f"at: {top.name}")
    return bill


# ---- printing ------------------------------------------------------------------------------------
def _sizes(n: float) -> str:
    return f"{n:>17,.0f} {n / GB:>10.3f} {n / GiB:>10.3f}"


def _binary(n: float) -> str:
    """Bytes in the largest binary unit that keeps the number ≥ 1: '1.52 MiB'."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:7.2f} {unit}"
    return f"{n:7.0f} B  "


def format_bill(bill: Bill, details: bool = True) -> str:
    """The bill as a table: bytes, GB (10⁹), GiB (2³⁰) and the formula of every line."""
    lines = [f"training memory bill: {bill.title}", "",
             f"{'':<24} {'bytes':>17} {'GB':>10} {'GiB':>10}  how"]
    for row in bill.rows:
        lines.append(f"{row.name:<24} {_sizes(row.bytes)}  {row.formula}")
    lines.append(f"{'total':<24} {_sizes(bill.total)}  the sum of the four (the notes' bill)")
    if bill.peak is not None:
        lines.append(f"{bill.peak.name:<24} {_sizes(bill.peak.bytes)}  {bill.peak.formula} (see below)")
    if details and bill.activation_items:
        lines += ["", "activations: what autograd saves for backward"]
        for it in bill.activation_items:
            lines.append(f"  {it.name:<54} {_binary(it.bytes)}  {it.formula}")
        lines += ["", "moments of a step (after the first; zero_grad(set_to_none=True) frees the gradients)"]
        for m in bill.moments:
            lines.append(f"  {m.name:<34} {_binary(m.bytes)}  {m.formula}")
    lines += [f"note: {n}" for n in bill.notes]
    return "\n".join(lines)


# ---- measuring: live tensor bytes during real training steps ---------------------------------------
class LiveTensorBytes(TorchDispatchMode):
    """Counts the bytes of all live tensor storages: every storage an operator creates is added,
    and removed when its last user lets go of it (a weakref finalizer on the storage). Tensors made
    before the mode started (weights, the batch) are added with `add`. `peak` is the high-water mark,
    what torch.cuda.max_memory_allocated reports on a GPU."""

    def __init__(self):
        super().__init__()
        self.live: dict[int, int] = {}
        self.current = self.peak = 0
        self.op, self.peak_op = "", ""  # the operator running now / when the peak was reached

    def add(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        key = storage._cdata  # the C++ storage, shared by all views of it
        if key in self.live:
            return
        self.live[key] = n = storage.nbytes()
        self.current += n
        if self.current > self.peak:
            self.peak, self.peak_op = self.current, self.op
        weakref.finalize(storage, self._free, key)

    def _free(self, key: int) -> None:
        self.current -= self.live.pop(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.op = str(func)
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.add(t)
        return out


def make_optimizer(name: str, params: list, lr: float = 1e-4) -> torch.optim.Optimizer:
    """torch.optim optimizers for `measure_training_peak`: fused (no temporaries) where torch has
    a fused kernel, else the per-parameter loop (temporaries of one parameter at a time)."""
    cpu = all(p.device.type == "cpu" for p in params)
    ctor = {
        "sgd": lambda: torch.optim.SGD(params, lr=lr, fused=True),
        "momentum": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9, fused=True),
        "nesterov": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, fused=True),
        "adagrad": lambda: torch.optim.Adagrad(params, lr=lr, fused=cpu, foreach=False),  # fused: CPU only
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=lr, foreach=False),
        "rmsprop-momentum": lambda: torch.optim.RMSprop(params, lr=lr, momentum=0.9, foreach=False),
        "adam": lambda: torch.optim.Adam(params, lr=lr, fused=True),
        "adamw": lambda: torch.optim.AdamW(params, lr=lr, fused=True),
    }
    if name not in ctor:
        raise ValueError(f"no torch optimizer for '{name}' ({', '.join(ctor)})")
    return ctor[name]()


def checkpoint_blocks(model) -> None:
    """Activation checkpointing for a GPT: each block keeps its input and recomputes in backward."""
    from torch.utils.checkpoint import checkpoint
    for block in model.blocks:
        block.forward = functools.partial(checkpoint, block.forward, use_reentrant=False)


def measure_training_peak(model, batch_fn: Callable[[], dict], *, optimizer: str = "adamw",
                          autocast_dtype: torch.dtype | None = None, steps: int = 3) -> dict:
    """Peak live tensor bytes over `steps` training steps of `model`, taken as lmlab's Trainer takes
    them: causal-LM loss (under autocast if `autocast_dtype`), backward, gradient clipping, optimizer
    step, zero_grad(set_to_none=True). Only parameters with requires_grad are trained. The first step
    (which creates the optimizer states) is reported apart; `peak` is the largest of the later ones.

    Returns {"peak", "first_step_peak", "weights"} in bytes, "peak_op" (the operator that reached
    the peak), and on CUDA also "cuda_peak":
    torch.cuda.max_memory_allocated over the later steps, the allocator's own count."""
    from lmlab.train.objectives import causal_lm

    params = [p for p in model.parameters() if p.requires_grad]
    device = next(model.parameters()).device
    meter = LiveTensorBytes()
    for t in [*model.parameters(), *model.buffers()]:
        meter.add(t)
    weights = meter.current
    amp = (lambda: torch.autocast(device.type, dtype=autocast_dtype)) if autocast_dtype else contextlib.nullcontext
    out = {}
    model.train()
    with meter:
        opt = make_optimizer(optimizer, params)  # inside the mode: AdaGrad makes its state here
        for step in range(steps):
            batch = {k: v.to(device) for k, v in batch_fn().items()}
            with amp():
                loss = causal_lm(model, batch)["loss"]
            loss.backward()
            del loss, batch
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if step == 0:
                out["first_step_peak"], meter.peak = meter.peak, meter.current
                if device.type == "cuda":
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats(device)
    out.update(peak=meter.peak, peak_op=meter.peak_op, weights=weights)
    if device.type == "cuda":
        torch.cuda.synchronize()
        out["cuda_peak"] = torch.cuda.max_memory_allocated(device)
    return out


def random_batches(vocab_size: int, batch: int, seq_len: int, seed: int = 0) -> Callable[[], dict]:
    gen = torch.Generator().manual_seed(seed)
    def make() -> dict:
        ids = torch.randint(0, vocab_size, (batch, seq_len + 1), generator=gen)
        return {"input_ids": ids[:, :-1].contiguous(), "labels": ids[:, 1:].contiguous()}
    return make


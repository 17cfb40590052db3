"""The memory bill of training: parameters, gradients, optimizer states, activations.

Notes V.3 ("LLM 训练中的显存占用分析", the "显存账单"): a 7B model in half precision (2 bytes a
parameter) needs 7B × 2 = 14 GB for its weights (模型参数), 14 GB for its gradients (梯度), and
AdamW keeps two states per parameter, the first and second moment (优化器状态), 14 GB × 2 = 28 GB;
activations (激活值) come on top and grow with batch size, sequence length and depth. LoRA and
QLoRA train only small adapters, so their gradients and optimizer states almost vanish, and QLoRA
also stores the frozen base in 4 bits. `training_bill` computes the bill for a GPT config (or a
bare parameter count) and `lmlab memory` prints it. GB is 10⁹ bytes, as in the notes; GiB (2³⁰
bytes, what `nvidia-smi` and most tools call "GB") is shown beside it: 14 GB = 13.04 GiB.
What autograd saves (the activations) is counted in activations.py; measure.py measures a real step.

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

The peak. The four parts never all exist at once: with `zero_grad(set_to_none=True)` (lmlab's
Trainer) there are no gradients during the forward pass, and backward frees a block's activations
as it creates that block's gradients. `training_bill` follows one step after the first (the
optimizer states exist then) through seven moments, and the largest is the peak:

    1 end of forward       weights + states + activations (the loss keeps the fp32 logits) + the
                           16-bit logits under autocast
    2 loss backward        weights + states + activations + B·T·V fp32, the logits' gradient (the
                           loss writes it in one piece: ops/losses.py)
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
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from lmlab.models.gpt.presets import count_parameters
from lmlab.ops import linear
from lmlab.tools.memory.activations import activation_bytes
from lmlab.tools.memory.sizes import (
    DTYPE_BYTES,
    Item,
    block_matrix_parameters,
    layer_parameters,
    lora_parameters,
)
from lmlab.units import binary_bytes

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


@dataclass
class Bill:
    """The bill of one training step: the notes' four rows, the activation items, the moments and the peak."""
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
        """The notes' four rows (three without an architecture)."""
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


def _onednn_linear(rows: int, k: int, n: int) -> bool:
    """Whether lmlab's fp32 linear layer (k -> n) on `rows` rows takes the oneDNN path (lmlab.ops.linear)
    in this process (forced, or chosen for that shape on this machine). Nothing is timed: a bill is asked for
    shapes that may not fit, before anything is built."""
    return linear.onednn_available() and linear.expected_kernel(rows, k, n) == "onednn"


# ---- the bill ------------------------------------------------------------------------------------
def training_bill(cfg=None, *, params: float | None = None, batch: int = 8, seq_len: int | None = None,
                  dtype: str = "fp32", mixed: bool = False, optimizer: str = "adamw", method: str = "full",
                  lora_rank: int = 8, double_quant: bool = False, checkpointing: bool = False,
                  backend: str | None = None, name: str = "") -> Bill:
    """The memory bill of one training step of a GPT (`cfg`, a GPTConfig) or of `params` parameters.

    With `params` alone there is no architecture: no activations, LoRA or QLoRA. With both, `params`
    is the parameter count and `cfg` gives the shapes. Raises ValueError on impossible settings."""
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
    bill.activations = Item("activations", act.saved, f"{blocks} + head (fp32 logits B·T·V × 4 B) + batch")
    bill.activation_items = act.items

    # the peak: seven moments of a training step (module docstring; the activations: activations.py)
    W, S, G = params_item.bytes, opt.bytes, grads.bytes
    V, C, F, L = cfg.vocab_size, cfg.d_model, cfg.ff_dim, cfg.n_layers
    a, r = act.a, act.r
    saved = act.saved - (act.per_layer if checkpointing else 0.0)  # the recomputed block is not there yet
    rest = saved - act.head - act.kept                               # the batch and the like
    logits = N * V * a if a < 4 else 0.0   # 16-bit logits beside the fp32 copy the loss keeps (fp32: the same tensor)
    head_grad = V * C * w if full else 0.0
    # F-sized gradients alive at once in the FF's backward, less the saved input of FF down it frees
    # first (ReLU keeps its output for itself; a frozen FF down saves nothing to free)
    k_ff = (2 if cfg.activation in ("relu", "swiglu") else 1) + (0 if full or cfg.activation == "relu" else 1)
    flowing = N * (C * r + k_ff * F * a) + (F * C * w if full else 0.0)
    if method == "qlora":
        flowing += 2 * C * max(F, C)             # one matrix dequantised to 16 bits
    if full and b == 4 and not mixed and _onednn_linear(N, F, C):
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
        Item("backward through the loss", W + S + saved + 4 * N * V,
             "weights + states + activations + the logits' gradient, B·T·V × 4 B"),
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
    """Bytes as the table's three columns: bytes, GB (10⁹) and GiB (2³⁰)."""
    return f"{n:>17,.0f} {n / GB:>10.3f} {n / GiB:>10.3f}"


def _binary(n: float) -> str:
    """Bytes in the largest binary unit that keeps the number ≥ 1, right-aligned: '   1.52 MiB'."""
    return binary_bytes(n, width=7)


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

"""ELMo (Peters et al. 2018, "Deep contextualized word representations"), top to bottom.

A word is read from its characters: a character CNN (Kim et al. 2016: filters of several widths, max over
positions, ReLU), highway layers (Srivastava et al. 2015) and a projection give one context-free token
vector x_t. Two language models read the token vectors: the forward LM predicts word t+1 from words ≤ t,
the backward LM word t-1 from words ≥ t. Each is its own stack of LSTMs with a projection
(torch.nn.LSTM(proj_size=d_model), one per layer, separate parameters per direction), with a residual
connection around every layer but the first. Both share the token encoder and the softmax. So that no
layer can see the other side, the two directions never mix inside the network: a
`nn.LSTM(bidirectional=True, num_layers=2)` would feed both directions' first-layer outputs into each
second layer, and the forward LM's layer 2 would see the future.

The representations of word t are R_t = [x_t; x_t] (layer 0) and [→h_t,j; ←h_t,j] for j = 1..L, each
(B, T, 2·d_model); a downstream task mixes them with `ScalarMix`: γ · Σ_j softmax(s)_j · R_t,j.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.models.elmo.config import ElmoConfig
from lmlab.models.elmo.presets import CHAR_VOCAB

CHAR_PAD = 0  # the padding character id (lmlab.data.word_chars writes the same)
# torch says once per process that its oneDNN kernels do not do projections and it uses its own: not news here
warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")


class Highway(nn.Module):
    """y = g ⊙ x + (1 - g) ⊙ relu(W_h x + b_h), g = σ(W_g x + b_g): a gated mix of carrying x and transforming it.
    W_h and W_g are one Linear(C, 2C); b_g starts at 1, so at first the layer mostly carries x through."""

    def __init__(self, dim: int):
        super().__init__()
        self.linear = nn.Linear(dim, 2 * dim)
        with torch.no_grad():
            self.linear.bias[dim:].fill_(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., C) -> (..., C)
        transform, gate = self.linear(x).chunk(2, dim=-1)
        gate = torch.sigmoid(gate)
        return gate * x + (1 - gate) * F.relu(transform)


class CharCNN(nn.Module):
    """Characters of each word (B, T, W) -> context-free token vectors (B, T, d_model)."""

    def __init__(self, cfg: ElmoConfig):
        super().__init__()
        self.embed = nn.Embedding(CHAR_VOCAB, cfg.char_dim, padding_idx=CHAR_PAD)
        self.convs = nn.ModuleList(nn.Conv1d(cfg.char_dim, n, width) for width, n in cfg.filters)
        self.highways = nn.ModuleList(Highway(cfg.n_filters) for _ in range(cfg.n_highway))
        self.proj = nn.Linear(cfg.n_filters, cfg.d_model)

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        B, T, W = chars.shape
        e = self.embed(chars.reshape(B * T, W)).transpose(1, 2)                 # (B·T, char_dim, W)
        # each filter slides over the characters; its largest response anywhere in the word is kept
        h = torch.cat([F.relu(conv(e).amax(dim=-1)) for conv in self.convs], dim=-1)  # (B·T, n_filters)
        for highway in self.highways:
            h = highway(h)
        return self.proj(h).view(B, T, -1)                                      # (B, T, d_model)


class LSTMStack(nn.Module):
    """One direction's language model: n_layers LSTMs with projection, each its own nn.LSTM, run in reading
    order; every layer after the first adds its input to its output (residual). Returns every layer's output."""

    def __init__(self, cfg: ElmoConfig):
        super().__init__()
        self.layers = nn.ModuleList(nn.LSTM(cfg.d_model, cfg.d_hidden, proj_size=cfg.d_model, batch_first=True)
                                    for _ in range(cfg.n_layers))
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # (B, T, C) -> n_layers × (B, T, C)
        outputs = []
        for i, lstm in enumerate(self.layers):
            h, _ = lstm(x)                                   # (B, T, C): the projected hidden state
            if i > 0:
                h = h + x
            outputs.append(h)
            x = self.dropout(h)
        return outputs


def reverse(x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Each row's first lengths[b] positions in reverse order, padding left where it was: (B, T, ...)."""
    if lengths is None:
        return x.flip(1)
    T = x.shape[1]
    pos = torch.arange(T, device=x.device)[None, :]                   # (1, T)
    idx = torch.where(pos < lengths[:, None], lengths[:, None] - 1 - pos, pos)  # (B, T)
    return x.gather(1, idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x))


class ElmoOutput(NamedTuple):
    tokens: torch.Tensor             # (B, T, C) the char CNN's token vectors x_t
    forward: list[torch.Tensor]      # n_layers × (B, T, C): →h_t,j, having read words ≤ t
    backward: list[torch.Tensor]     # n_layers × (B, T, C): ←h_t,j, having read words ≥ t


class Elmo(nn.Module):
    """The biLM: token encoder, forward and backward LSTM stacks, one softmax over the word vocabulary."""

    def __init__(self, cfg: ElmoConfig):
        super().__init__()
        self.cfg = cfg
        self.token_encoder = CharCNN(cfg)
        self.forward_lm = LSTMStack(cfg)
        self.backward_lm = LSTMStack(cfg)
        self.dropout = nn.Dropout(cfg.dropout)
        self.softmax = nn.Linear(cfg.d_model, cfg.vocab_size)   # shared by both directions

    def states(self, chars: torch.Tensor, lengths: torch.Tensor | None = None) -> ElmoOutput:
        """chars (B, T, W) of right-padded sentences (lengths (B,) real words; None: all T are real)."""
        x = self.token_encoder(chars)                                    # (B, T, C)
        fwd = self.forward_lm(self.dropout(x))
        bwd = [reverse(h, lengths) for h in self.backward_lm(reverse(self.dropout(x), lengths))]
        return ElmoOutput(x, fwd, bwd)

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (forward logits, backward logits), each (B, T, V): at t, of word t+1 and of word t-1."""
        out = self.states(chars, lengths)
        return self.softmax(self.dropout(out.forward[-1])), self.softmax(self.dropout(out.backward[-1]))

    def layer_outputs(self, chars: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """ELMo's representations of every word: (L+1, B, T, 2C), layer 0 = [x; x], layer j = [→h_j; ←h_j]."""
        out = self.states(chars, lengths)
        layers = [torch.cat([out.tokens, out.tokens], -1)]
        layers += [torch.cat([f, b], -1) for f, b in zip(out.forward, out.backward)]
        return torch.stack(layers)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


class ScalarMix(nn.Module):
    """ELMo's task-specific combination (eq. 1): γ · Σ_j s_j · R_j with s = softmax(w). w starts at zero
    and γ at one, so an untrained mix is the plain mean of the layers."""

    def __init__(self, n_layers: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(n_layers))
        self.gamma = nn.Parameter(torch.ones(()))

    def forward(self, layers: torch.Tensor) -> torch.Tensor:  # (L+1, B, T, C) -> (B, T, C)
        s = torch.softmax(self.weights, dim=0)
        return self.gamma * torch.einsum("l,l...->...", s, layers)

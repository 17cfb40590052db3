"""ELMo's settings (Peters et al. 2018, "Deep contextualized word representations", §3 and the released
"original" model): a character-CNN token encoder (Kim et al. 2016) with highway layers, then two
separate L-layer LSTM language models (forward and backward) with projections, and one softmax."""

from __future__ import annotations

from dataclasses import dataclass

# the paper's character filters (width, number): 2048 in all
ORIGINAL_FILTERS = ((1, 32), (2, 32), (3, 64), (4, 128), (5, 256), (6, 512), (7, 1024))


@dataclass(frozen=True)
class ElmoConfig:
    vocab_size: int = 1000          # the softmax's word vocabulary (set from the corpus when training)
    max_chars: int = 50             # characters (UTF-8 bytes) per word, begin/end-of-word marks included
    char_dim: int = 16              # character embedding size
    filters: tuple[tuple[int, int], ...] = ((1, 32), (2, 32), (3, 64), (4, 128))  # (width, n) of the char CNN
    n_highway: int = 2              # highway layers on the concatenated filter outputs
    d_model: int = 128              # token vector and LSTM output size (the LSTM's projection, proj_size)
    d_hidden: int = 512             # LSTM cell size, projected down to d_model at every step
    n_layers: int = 2               # LSTM layers per direction
    dropout: float = 0.1            # on the token vectors, between LSTM layers and before the softmax
    max_seq_len: int = 20           # words per training window (the paper unrolls 20 steps)

    def __post_init__(self):
        # JSON gives lists: store the filters as tuples so the config stays hashable and frozen
        object.__setattr__(self, "filters", tuple(tuple(int(x) for x in f) for f in self.filters))
        for name in ("vocab_size", "char_dim", "n_highway", "d_model", "d_hidden", "n_layers", "max_seq_len"):
            if getattr(self, name) <= 0 and name != "n_highway":
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.n_highway < 0:
            raise ValueError(f"n_highway must be ≥ 0, got {self.n_highway}")
        if not self.filters or any(len(f) != 2 or f[0] <= 0 or f[1] <= 0 for f in self.filters):
            raise ValueError(f"filters must be a non-empty list of positive [width, n] pairs, got {self.filters}")
        if self.max_chars < 3 or max(w for w, _ in self.filters) > self.max_chars:
            raise ValueError(f"max_chars ({self.max_chars}) must be ≥ 3 and ≥ the widest filter")
        if self.d_model >= self.d_hidden:
            raise ValueError(f"the LSTM projects its cell down: need d_model ({self.d_model}) < d_hidden "
                             f"({self.d_hidden}), as torch.nn.LSTM's proj_size requires")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def n_filters(self) -> int:
        """Width of the char CNN's output (the highway layers' width)."""
        return sum(n for _, n in self.filters)

"""What text a language-model run trains on and how it is tokenized."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class LMDataConfig:
    tokenizer: Literal["char", "bpe"] = "char"
    bpe_vocab_size: int = 1024     # for --tokenizer bpe
    val_fraction: float = 0.1      # the last 10% of the text is the validation split

    def __post_init__(self):
        if self.tokenizer not in ("char", "bpe"):
            raise ValueError(f"tokenizer must be 'char' or 'bpe', got '{self.tokenizer}'")
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5), got {self.val_fraction}")

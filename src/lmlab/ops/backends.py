"""The names of the attention kernels (lmlab.ops.attention), torch-free so that configs and the CLI can
list them without importing torch."""

from typing import Literal, get_args

Backend = Literal["naive", "flash", "sdpa"]  # naive; flash: tiled, online softmax; sdpa: torch's fused kernel
BACKENDS: tuple[str, ...] = get_args(Backend)

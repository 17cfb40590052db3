"""The names of the attention kernels (lmlab.ops.attention), torch-free so that configs and the CLI can
list them without importing torch."""

from typing import Literal, get_args

# naive; flash: tiled, online softmax; bmm: two batched products with its own backward (short sequences);
# sdpa: torch's fused kernel; auto: the fastest of them for each shape and dtype on this machine, measured
# once (lmlab.ops.attention.auto_backend)
Backend = Literal["naive", "flash", "bmm", "sdpa", "auto"]
BACKENDS: tuple[str, ...] = get_args(Backend)

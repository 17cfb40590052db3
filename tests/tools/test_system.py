"""tools.system: the `info --system` report names the CPU, its features, the torch build and every kernel choice."""

import torch

from lmlab.ops.cpu import cpu_info
from lmlab.tools.system import ATTN_DECODE, ATTN_TRAIN, KERNEL_NAMES, choose_all, report


def test_report_without_measuring_names_everything():
    lines = report(measure=False)                    # LMLAB_AUTOTUNE=0 in the tests: choices from the CPU
    text = "\n".join(lines)
    assert lines[0] == f"CPU             {cpu_info().model}"
    assert torch.__version__ in text and "not measured" in text
    chosen = choose_all()
    assert set(chosen) <= set(KERNEL_NAMES) and {"train_dtype", ATTN_TRAIN, ATTN_DECODE} < set(chosen)
    assert chosen[ATTN_TRAIN] == chosen[ATTN_DECODE] == "sdpa"   # attn_backend auto's capability default
    for name, kernel in chosen.items():
        assert f"{KERNEL_NAMES[name]:<24}{kernel}" in text

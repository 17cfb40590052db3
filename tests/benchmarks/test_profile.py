"""benchmarks/_profile.py: the GEMM share and the rest by op add up to the total self CPU time (nothing
counted twice), matrix products are GEMMs and other ops are not. (No timing is asserted.)"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from _profile import is_gemm, markdown_table, profile_ops  # noqa: E402


def test_gemm_share_and_the_rest_add_up():
    a, w = torch.randn(64, 128), torch.randn(256, 128)
    prof = profile_ops(lambda i: torch.nn.functional.linear(a, w).relu().sum(), steps=3, top=2)
    ops = prof["all_ops"]
    assert any(is_gemm(op) for op in prof["gemm_ops"]) and "aten::relu" not in prof["gemm_ops"]
    assert abs(prof["gemm_ms"] + sum(v for k, v in ops.items() if not is_gemm(k)) - prof["total_ms"]) < 1e-2
    shown = sum(r["ms"] for r in prof["top_other"])
    assert abs(prof["gemm_ms"] + shown + prof["remaining_ms"] - prof["total_ms"]) < 1e-2
    assert len(prof["top_other"]) <= 2 and 0 < prof["gemm_share"] <= 1
    table = markdown_table({"x": prof, "y": prof})
    assert table.splitlines()[0] == "| ms per step (self CPU) | x | y |" and "GEMM" in table


def test_what_counts_as_a_gemm():
    assert all(is_gemm(op) for op in ("aten::mm", "aten::addmm", "aten::bmm", "mkldnn::_linear_pointwise"))
    assert not any(is_gemm(op) for op in ("mkldnn::_reorder_linear_weight", "aten::softmax",
                                          "aten::_scaled_dot_product_flash_attention_for_cpu"))

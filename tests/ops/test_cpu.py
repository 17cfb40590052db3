"""ops.cpu: the model and features read from real /proc/cpuinfo texts (tests/data/cpuinfo/), and this machine's."""

from pathlib import Path

import torch

from lmlab.ops.cpu import cpu_info, matmul_gflops, memory_bandwidth, parse_cpuinfo, torch_build

DATA = Path(__file__).parents[1] / "data" / "cpuinfo"


def sample(name: str) -> str:
    return (DATA / f"{name}.txt").read_text(encoding="utf-8")


def test_xeon_with_amx_and_native_bf16():
    info = cpu_info(sample("xeon_amx"), threads=2, capability="AVX512")
    assert info.model == "Intel(R) Xeon(R) Processor"
    assert info.features() == ["AVX2", "AVX-512", "AMX", "bf16"]
    assert info.label() == "Intel(R) Xeon(R) Processor (AVX2, AVX-512, AMX, bf16; 2 threads)"


def test_zen3_has_avx2_only_and_no_native_bf16():
    info = cpu_info(sample("epyc_milan"), threads=16, capability="AVX2")
    assert info.model == "AMD EPYC-Milan Processor"
    assert info.features() == ["AVX2"] and not info.bf16 and not info.avx512
    assert info.label() == "AMD EPYC-Milan Processor (AVX2, no native bf16; 16 threads)"


def test_a_hypervisor_hiding_avx2_is_overruled_by_torchs_capability():
    model, flags = parse_cpuinfo(sample("epyc_milan"))
    hidden = sample("epyc_milan").replace(" avx2 ", " ")        # as the Zen 3 VM of issue 20 showed it
    assert "avx2" in flags and "avx2" not in parse_cpuinfo(hidden)[1]
    assert cpu_info(hidden, capability="AVX2").avx2
    assert not cpu_info(hidden, capability="DEFAULT").avx2


def test_arm_features_line_and_no_model_name():
    model, flags = parse_cpuinfo(sample("ampere_altra"))
    assert model == "" and {"asimd", "atomics"} <= flags
    info = cpu_info(sample("ampere_altra"), capability="DEFAULT")
    assert info.model and info.features() == [] and "no AVX2" in info.label()


def test_this_machine_and_quick_measurements():
    info = cpu_info()
    assert info.model and info.threads == torch.get_num_threads()
    assert set(info.as_dict()) >= {"model", "features", "native_bf16", "torch_capability", "threads", "torch"}
    assert torch.__version__ in torch_build()
    assert matmul_gflops(64, reps=1) > 0 and memory_bandwidth(4, reps=1) > 0

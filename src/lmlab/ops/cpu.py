"""What this CPU can do: its model name, the vector and matrix units that matter to the kernels, and two
quick measurements (the fp32/bf16 matmul peak and the memory bandwidth).

Features come from two sources, because neither is enough alone: torch's dispatch capability
(`torch.backends.cpu.get_cpu_capability()`, what its own kernels will use: DEFAULT, AVX2, AVX512) and
the flags line of /proc/cpuinfo (which names AMX and bf16 units, but which some hypervisors trim: a Zen 3
VM was seen without `avx2` there while torch rightly ran AVX2 code). "Native bf16" means bf16 dot
products in hardware (AVX512_BF16 or AMX-BF16), which is what oneDNN needs to make bf16 fast; without
them bf16 is emulated through fp32 and usually slower to train.
"""

from __future__ import annotations

import functools
import os
import platform
import statistics
import time
from dataclasses import dataclass, field

import torch

CPUINFO = "/proc/cpuinfo"


def parse_cpuinfo(text: str) -> tuple[str, frozenset[str]]:
    """The model name and the flags of the first processor in a /proc/cpuinfo text ("" and {} if absent)."""
    return _fields(text)[:2]


def _fields(text: str) -> tuple[str, frozenset[str], str]:
    model, flags, vendor = "", frozenset(), ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "vendor_id" and not vendor:
            vendor = value.strip()
        elif key == "model name" and not model:
            model = " ".join(value.split())
        elif key in ("flags", "Features") and not flags:   # x86 | arm64
            flags = frozenset(value.split())
    return model, flags, vendor


@dataclass(frozen=True)
class CpuInfo:
    model: str                      # "AMD EPYC 7B13", "Intel(R) Xeon(R) Processor", …
    flags: frozenset[str]           # /proc/cpuinfo's flags (possibly trimmed by a hypervisor)
    capability: str                 # torch's dispatch level: DEFAULT | AVX2 | AVX512 | …
    threads: int                    # torch's intra-op threads
    onednn_bf16: bool = False       # oneDNN's own check for bf16 instructions
    vendor: str = ""                # GenuineIntel | AuthenticAMD | "" (arm64 names none)
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def avx2(self) -> bool:
        return "avx2" in self.flags or self.capability.startswith(("AVX2", "AVX512"))

    @property
    def avx512(self) -> bool:
        return "avx512f" in self.flags or self.capability.startswith("AVX512")

    @property
    def amx(self) -> bool:
        return "amx_tile" in self.flags

    @property
    def bf16(self) -> bool:
        """bf16 dot products in hardware (AVX512_BF16 or AMX-BF16)."""
        return bool({"avx512_bf16", "amx_bf16"} & self.flags) or self.onednn_bf16

    def features(self) -> list[str]:
        """The units that matter here, by name: AVX2, AVX-512, AMX, bf16 (only those present)."""
        return [name for name, have in (("AVX2", self.avx2), ("AVX-512", self.avx512), ("AMX", self.amx),
                                         ("bf16", self.bf16)) if have]

    def label(self) -> str:
        """One line naming the CPU for a benchmark figure: 'MODEL (AVX2, AVX-512, bf16; 2 threads)'."""
        feats = ", ".join(self.features()) or "no AVX2"
        if not self.bf16:
            feats += ", no native bf16"
        return f"{self.model} ({feats}; {self.threads} threads)"

    def as_dict(self) -> dict:
        return {"model": self.model, "vendor": self.vendor, "features": self.features(), "native_bf16": self.bf16,
                "torch_capability": self.capability, "threads": self.threads, "torch": torch.__version__}


def cpu_info(cpuinfo_text: str | None = None, threads: int | None = None, capability: str | None = None) -> CpuInfo:
    """This machine's CpuInfo, or one described by a /proc/cpuinfo text (then oneDNN, which can only
    speak for this machine, is not asked about bf16)."""
    here = cpuinfo_text is None
    model, flags, vendor = _local_fields() if here else _fields(cpuinfo_text)
    onednn_bf16 = here and _onednn_bf16()
    return CpuInfo(model=model or platform.processor() or platform.machine() or "unknown CPU", flags=flags,
                   capability=capability or torch.backends.cpu.get_cpu_capability(),
                   threads=threads or torch.get_num_threads(), onednn_bf16=onednn_bf16, vendor=vendor)


@functools.cache
def _local_fields() -> tuple[str, frozenset[str], str]:
    """This machine's (model, flags, vendor), parsed once: cpu_info() is asked on hot paths (kernel keys)."""
    return _fields(_read_cpuinfo())


@functools.cache
def _onednn_bf16() -> bool:
    return bool(torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported")
                and torch.ops.mkldnn._is_mkldnn_bf16_supported())


@functools.cache
def _read_cpuinfo() -> str:
    try:
        with open(CPUINFO, encoding="utf-8", errors="replace") as f:
            return f.read(1 << 16)   # the first processor is enough
    except OSError:
        return ""


def torch_build() -> str:
    """'2.13.0+cpu, MKL 2024.2, oneDNN v3.12.0': the version and the math libraries compiled in."""
    parts = [torch.__version__]
    for line in torch.__config__.show().splitlines():
        line = line.strip(" -")
        if "Math Kernel Library Version" in line:
            parts.append("MKL " + line.split("Version")[1].split()[0].split("-")[0])
        elif line.startswith("Intel(R) MKL-DNN"):
            parts.append("oneDNN " + line.split()[2])
    return ", ".join(parts)


# ---- quick measurements -------------------------------------------------------------------------
def median_time(fn, reps: int = 5) -> float:
    """The median wall-clock seconds of `fn()` over `reps` calls, after one untimed call."""
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@torch.no_grad()
def matmul_gflops(n: int = 1024, dtype: torch.dtype = torch.float32, reps: int = 5) -> float:
    """GFLOP/s of an n×n by n×n torch.mm (MKL for fp32, oneDNN for bf16) at the current thread count."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n ** 3 / median_time(lambda: torch.mm(a, b), reps) / 1e9


@torch.no_grad()
def memory_bandwidth(mbytes: int = 256, reps: int = 5) -> float:
    """GB/s of copying a `mbytes` MB fp32 tensor (bytes read + bytes written): the stream bound a decode
    step's weight reads cannot beat."""
    n = mbytes * (1 << 20) // 4
    src, dst = torch.ones(n), torch.empty(n)
    return 2 * 4 * n / median_time(lambda: dst.copy_(src), reps) / 1e9


def cpu_count() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

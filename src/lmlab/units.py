"""How lmlab prints sizes: parameter counts ('124M') and bytes in binary units ('1.5 MiB')."""

from __future__ import annotations


def human(n: float) -> str:
    """A count in the largest decimal unit it reaches: 124439808 -> '124M', 1.3e9 -> '1.3B'."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.{1 if unit == 'B' else 0}f}{unit}"
    return str(int(n))


def binary_bytes(n: float, width: int = 0) -> str:
    """Bytes in the largest binary unit that keeps the number ≥ 1: '1.5 MiB' (2^20 bytes to the MiB)."""
    for unit, scale in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:{width}.{2 if width else 1}f} {unit}"
    return f"{n:{width}.0f} B" + ("  " if width else "")

"""Baskets for Item2Vec (Barkan & Koenigstein 2016): a Debian package with its dependencies.

Each line of a packages.jsonl is {"name", "section", "depends": [[alternative, …], …], "provides", …}.
A basket is the package and, per dependency group, its first alternative that is a real package.
A virtual or ABI name (`perlapi-5.36.0`, `r-api-4.0`, `awk`) is resolved through the `provides`
lists to the one real package that provides it; a virtual name that several packages (or none)
provide is dropped, as is a dependency on the package itself. Packages left without dependencies make
no pairs: they are counted, not refused. A line that is not a package record is a bad row, as in every
loader (lmlab.data.rows): refused naming FILE:LINE, or with skip_bad (`--skip-bad`) skipped, counted in
counts["bad_lines"] and reported on stderr.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from lmlab.data.rows import Rows
from lmlab.errors import LmlabError


@dataclass(frozen=True)
class BasketDataConfig:
    min_count: int = 5                      # items in fewer baskets are dropped
    sample: float = 1e-3                    # sub-sampling of frequent items (libc6 is in most baskets)
    max_basket: int = 64                    # longer baskets are cut (the window is the whole basket)
    skip_bad: bool = False                  # skip malformed lines (counted) instead of stopping

    def __post_init__(self):
        if self.min_count < 1 or self.sample < 0 or self.max_basket < 2:
            raise ValueError("need min_count >= 1, sample >= 0 and max_basket >= 2")


@dataclass
class Baskets:
    baskets: list[list[str]]                # the package first, then its resolved dependencies
    sections: dict[str, str]                # package -> Debian section
    counts: dict[str, int] = field(default_factory=dict)   # what happened to lines and dependencies


def _is_package(row: dict) -> bool:
    depends = row.get("depends", [])
    return (isinstance(row.get("name"), str) and bool(row["name"]) and isinstance(depends, list)
            and all(isinstance(g, list) and all(isinstance(a, str) for a in g) for g in depends)
            and isinstance(row.get("provides", []), list))


def read_baskets(path: str | Path, cfg: BasketDataConfig = BasketDataConfig()) -> Baskets:
    """The baskets of a packages.jsonl; its bad lines go the way of every loader's (lmlab.data.rows)."""
    records = Rows(path, cfg.skip_bad, jsonl=True)
    rows = []
    for n, row in records:
        if _is_package(row):
            rows.append(row)
        else:
            records.bad.reject(n, 'not a package record (needs "name" and "depends" as a list of lists of package '
                                  'names)')
    records.report(len(rows), "package records")
    if not rows:
        raise LmlabError(f"{path} holds no package records")
    real = {r["name"] for r in rows}
    providers: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        for v in r.get("provides", []):
            providers[str(v).split()[0]].add(r["name"])
    counts = dict.fromkeys(("bad_lines", "real", "virtual_resolved", "virtual_dropped", "no_dependencies",
                            "cut"), 0)
    counts["bad_lines"] = records.bad.count
    baskets = []
    for r in rows:
        basket = [r["name"]]
        for group in r.get("depends", []):
            item = next((a for a in group if a in real), None)
            if item is not None:
                counts["real"] += 1
            else:
                options = {p for a in group for p in providers.get(a, ())}
                if len(options) == 1:
                    item = options.pop()
                    counts["virtual_resolved"] += 1
                else:
                    counts["virtual_dropped"] += 1
            if item is not None and item not in basket:
                basket.append(item)
        if len(basket) == 1:
            counts["no_dependencies"] += 1
        if len(basket) > cfg.max_basket:
            counts["cut"] += 1
            basket = basket[:cfg.max_basket]
        baskets.append(basket)
    return Baskets(baskets, {r["name"]: str(r.get("section", "")) for r in rows}, counts)

"""Item2Vec baskets from a Debian package index: virtual names resolved or dropped, bad lines refused.

tests/data/debian_12_packages.jsonl: 12 records (name, section, depends, provides) copied from
/work/shared/data/debian/packages.jsonl (Debian 12 archive metadata).
"""

from pathlib import Path

import pytest

from lmlab.data.baskets import BasketDataConfig, read_baskets
from lmlab.errors import LmlabError

SAMPLE = Path(__file__).parent / "debian_12_packages.jsonl"


def test_baskets_resolve_abi_names_through_provides():
    got = read_baskets(SAMPLE)
    baskets = {b[0]: b for b in got.baskets}
    assert baskets["libdbi-perl"] == ["libdbi-perl", "perl-base", "libc6"]   # perlapi-5.36.0 -> perl-base
    assert baskets["r-cran-ggplot2"] == ["r-cran-ggplot2", "r-base-core"]    # r-api-4.0 -> r-base-core
    assert baskets["python3-sklearn"][:3] == ["python3-sklearn", "python3-numpy", "python3-scipy"]
    assert got.counts["virtual_resolved"] == 4 and got.counts["no_dependencies"] == 2
    assert got.sections["python3-numpy"] == "python"


def test_bad_lines_refused_or_skipped(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(SAMPLE.read_text() + '{"name": "x", "depends": "libc6"}\nnot json\n')
    with pytest.raises(LmlabError, match=r"p.jsonl:13: not a package record"):
        read_baskets(path)
    got = read_baskets(path, BasketDataConfig(skip_bad=True))
    assert got.counts["bad_lines"] == 2 and len(got.baskets) == 12
    cut = read_baskets(SAMPLE, BasketDataConfig(max_basket=2))
    assert max(len(b) for b in cut.baskets) == 2 and cut.counts["cut"] > 0

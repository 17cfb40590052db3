"""Item2Vec baskets from a Debian package index: virtual names resolved or dropped, bad lines refused.

tests/data/debian_12_packages.jsonl: 12 records (name, section, depends, provides) copied from
/work/shared/data/debian/packages.jsonl (Debian 12 archive metadata).
"""

from pathlib import Path

import pytest

from lmlab.data.baskets import BasketDataConfig, read_baskets
from lmlab.data.rows import SKIP_HINT
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


@pytest.mark.parametrize("line, why", [('{"name": "x", "depends": "libc6"}', "not a package record"),
                                       ("not json", "not a JSON object"), ("[1, 2]", "not a JSON object")])
def test_a_bad_line_is_refused_as_by_every_loader(tmp_path, line, why):
    """lmlab.data.rows' rule: FILE:LINE, why, and the shared --skip-bad hint."""
    path = tmp_path / "p.jsonl"
    path.write_text(SAMPLE.read_text() + line + "\n")
    with pytest.raises(LmlabError) as e:
        read_baskets(path)
    assert str(e.value).startswith(f"{path}:13: {why}") and str(e.value).endswith(SKIP_HINT)


def test_skip_bad_counts_and_reports_the_bad_lines(tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    path.write_text(SAMPLE.read_text() + '{"name": "x", "depends": "libc6"}\n\nnot json\n[1, 2]\n')
    got = read_baskets(path, BasketDataConfig(skip_bad=True))
    assert got.counts["bad_lines"] == 3 and len(got.baskets) == 12
    assert f"skipped 3 bad row(s) of {path}, kept 12 package records" in capsys.readouterr().err
    cut = read_baskets(SAMPLE, BasketDataConfig(max_basket=2))
    assert max(len(b) for b in cut.baskets) == 2 and cut.counts["cut"] > 0

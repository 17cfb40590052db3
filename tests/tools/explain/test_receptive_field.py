"""`lmlab explain receptive-field`: fields measured by gradient equal the formula; 18C² vs 25C²."""

from __future__ import annotations

from lmlab.tools.explain import run_topic


def test_receptive_field_numbers(tmp_path, capsys):
    r = run_topic("receptive-field", tmp_path)
    assert (r["3×3 + 3×3"]["field"], r["5×5"]["field"]) == (5, 5)
    assert (r["3×3 ×3"]["field"], r["7×7"]["field"]) == (7, 7)
    assert all(v["field"] == v["formula"] for v in r.values())
    assert (r["3×3 + 3×3"]["per_c2"], r["5×5"]["per_c2"], r["3×3 ×3"]["per_c2"], r["7×7"]["per_c2"]) == (18, 25, 27, 49)
    assert (tmp_path / "receptive-field.png").is_file()

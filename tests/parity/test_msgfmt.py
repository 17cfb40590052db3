"""lmlab.data.placeholders.compatible against GNU gettext's `msgfmt -c` (Debian package `gettext`): a tiny .po
of every hand-checked case (tests/data/test_placeholders.py) plus real messages of the corpus with their
references, each flagged c-format, python-format or python-brace-format; the verdicts must agree exactly."""

import shutil
import subprocess
from pathlib import Path

import pytest
from tests.data.test_placeholders import CASES

from lmlab.data.placeholders import PLACEHOLDER, compatible, kind, placeholders

DATA = Path(__file__).parents[1] / "data" / "messages_en_zh_1000.tsv"
pytestmark = pytest.mark.skipif(shutil.which("msgfmt") is None, reason="msgfmt (apt package gettext) not installed")


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def flag(src: str) -> str:
    kinds = {kind(p) for p in placeholders(src)}
    return "python-brace-format" if "brace" in kinds else "python-format" if "named" in kinds else "c-format"


def msgfmt_verdicts(pairs: list[tuple[str, str]], tmp_path: Path) -> list[bool]:
    """msgfmt -c's verdict on each (msgid, msgstr): False when it reports an error at that msgstr's line."""
    lines = ['msgid ""', 'msgstr ""', '"Content-Type: text/plain; charset=UTF-8\\n"', ""]
    where = []
    for i, (src, tgt) in enumerate(pairs):
        lines += [f"#, {flag(src)}", f"msgctxt \"{i}\"", f"msgid {quote(src)}", f"msgstr {quote(tgt)}", ""]
        where.append(len(lines) - 1)                            # the msgstr line, 1-based
    po = tmp_path / "t.po"
    po.write_text("\n".join(lines), encoding="utf-8")
    proc = subprocess.run(["msgfmt", "-c", "-o", "/dev/null", str(po)], capture_output=True, text=True)
    bad = {int(line.split(":")[1]) for line in proc.stderr.splitlines()
           if line.startswith(str(po)) and "warning" not in line}
    return [w not in bad for w in where]


def test_hand_checked_cases_agree_with_msgfmt(tmp_path):
    pairs = [(s, t) for s, t, _ in CASES]
    assert msgfmt_verdicts(pairs, tmp_path) == [ok for _, _, ok in CASES] == [compatible(s, t) for s, t in pairs]


def well_formed(text: str) -> bool:
    """Every % of the text starts a printf directive the placeholder pattern reads (e2fsck's own %B, %Q … and
    stray percents are not c-format: xgettext would not flag them, and msgfmt does not check them)."""
    return PLACEHOLDER.sub("", text).count("%") == 0 and all(kind(p) in ("printf", "percent", "noarg")
                                                              for p in placeholders(text))


def test_real_messages_agree_with_msgfmt(tmp_path):
    """The corpus's c-format messages, each with its own reference and with the reference of the next one
    (mostly incompatible): 100 % agreement."""
    rows = [line.split("\t")[:2] for line in DATA.read_text(encoding="utf-8").splitlines()[1:]]
    rows = [(s, t) for s, t in rows if placeholders(s) and well_formed(s) and well_formed(t)]
    pairs = rows + [(s, rows[(i + 1) % len(rows)][1]) for i, (s, _) in enumerate(rows)]
    ours = [compatible(s, t) for s, t in pairs]
    assert msgfmt_verdicts(pairs, tmp_path) == ours
    assert 0.3 < sum(ours) / len(ours) < 0.7                    # both verdicts occur

"""Placeholders: msgfmt -c's compatibility on hand-checked cases, masking and restoring."""

import pytest

from lmlab.data.placeholders import compatible, mask_source, mask_target, placeholders, restore, slot_tokens

# (source, translation, compatible?) -- each checked by hand against gettext's rules (and, in
# tests/parity/test_msgfmt.py, against msgfmt -c itself)
CASES = [
    ("%s: cannot open", "%s：无法打开", True),
    ("%s of %d", "%d 的 %s", False),                          # unnumbered: order matters (types swap)
    ("%s of %d", "%2$d 的 %1$s", True),                        # ... unless placed with %n$
    ("%s and %s", "%2$s 和 %1$s", True),
    ("%s and %s", "%s 和 %1$s", False),                        # mixes numbered and unnumbered
    ("%s %d", "%s", False),                                    # one argument dropped
    ("%s", "%s %d", False),                                    # one argument added
    ("%lu removed", "已删除 %u", False),                        # size differs
    ("%i items", "%d 项", True),                               # %i ≈ %d
    ("%x", "%u", True),                                        # both unsigned
    ("%.*s", "%2$.*1$s", True),                                # the star takes an argument of its own
    ("%.*s", "%s", False),
    ("%s: %m", "%s", True),                                    # %m takes no argument
    ("%d%% done", "完成 %d", True),                             # %% takes none either
    ("Done", "完成 100%%", True),
    ("%s done", "%s 完成 50%", False),                         # a stray % in a c-format translation
    ("%s: %s", "%s：%1$1$s", False),
    ("%s done", "%s 完成 50%%", True),
    ("Done", "完成 %s", False),
    ("%-26.24s %5.1f", "%-20s %.2f", True),                    # flags, width, precision do not matter
    ("%(name)s has %(n)d", "%(n)d 属于 %(name)s", True),        # named: a set
    ("%(name)s has %(n)d", "%(name)s", False),
    ("{0} of {1}", "{1} 的 {0}", True),
    ("{} of {}", "{1} 的 {0}", True),                          # {} counts up from {0}
    ("{0} of {1}", "{0}", False),
]


@pytest.mark.parametrize("src,tgt,ok", CASES)
def test_compatibility_as_msgfmt_checks_it(src, tgt, ok):
    assert compatible(src, tgt) is ok


def test_mask_and_restore_round_trip():
    src = "%s: copied %lu of %lu (%.*s) 100%%"
    masked, phs = mask_source(src, 16)
    assert masked == "<ph0>: copied <ph1> of <ph2> (<ph3>) 100<ph4>"
    assert phs == ["%s", "%lu", "%lu", "%.*s", "%%"] and restore(masked, phs) == src
    assert mask_source(src, 2) == ("<ph0>: copied <ph1> of %lu (%.*s) 100%%", ["%s", "%lu"])
    assert slot_tokens(2) == ["<ph0>", "<ph1>"]
    # the target: the same text, first unused; %n$ names the source's n-th argument
    assert mask_target("%s：已复制 %lu / %lu (%.*s) 100%%", phs) == "<ph0>：已复制 <ph1> / <ph2> (<ph3>) 100<ph4>"
    assert mask_target("%2$lu 个，来自 %1$s", ["%s", "%lu"]) == "<ph1> 个，来自 <ph0>"
    assert mask_target("%d 和 %q", ["%s"]) == "%d 和 %q"             # no slot stands for them


def test_restore_places_reordered_arguments():
    phs = ["%s", "%lu", "%.*s"]
    out = restore("<ph1> 的 <ph0> <ph2>", phs)
    assert out == "%2$lu 的 %1$s %4$.*3$s" and compatible("%s %lu %.*s", out)
    assert restore("<ph0> 的 <ph1>", ["%s", "%lu"]) == "%s 的 %lu"     # in order: as they were
    assert restore("<ph1> <ph0>", ["{0}", "{1}"]) == "{1} {0}"           # braces: a set, no rewrite
    assert restore("<ph0> <ph7>", ["%s"]) == "%s "                        # an unknown slot is dropped
    assert placeholders(restore("<ph1> <ph0>", ["%s", "%%"])) == ["%%", "%s"]

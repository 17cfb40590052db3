"""Translation metrics: sacrebleu's BLEU/chrF with the right tokenizer, and printf placeholders."""

import pytest

from lmlab.tools.translation_metrics import (
    bleu_chrf,
    bleu_tokenizer,
    placeholder_agreement,
    placeholders,
    printf_compatibility,
)


def test_placeholders_of_real_messages():
    assert placeholders("%lu to remove and %lu not upgraded.") == ["%lu", "%lu"]
    assert placeholders("ar member name '%s' length too long: %.250s %1$s %-26.24s %%") == \
        ["%s", "%.250s", "%1$s", "%-26.24s", "%%"]
    assert placeholders("%(name)s has {0} of {} in %.*s (%zu, %llu, %m)") == \
        ["%(name)s", "{0}", "{}", "%.*s", "%zu", "%llu", "%m"]
    assert placeholders("50% done, 100% complete") == []                       # no printf space flag


def test_placeholder_agreement_counts_sentences_with_placeholders_only():
    refs = ["%s 已经是最新版 (%s)。", "完成", "%2$s 和 %1$s"]
    hyps = ["%s 是 (%s)", "好", "%1$s 和 %2$s"]                                  # reordering is allowed
    assert placeholder_agreement(hyps, refs) == (2, 2)
    assert placeholder_agreement(["%s 是", "好", "%1$s"], refs) == (0, 2)


def test_bleu_uses_character_tokens_for_chinese():
    assert bleu_tokenizer("zh") == "zh" and bleu_tokenizer("zh-CN") == "zh" and bleu_tokenizer("fr") == "13a"
    assert bleu_tokenizer("zh", "char") == "char"
    refs = ["下列软件包的版本将保持不变：", "失败。"]
    assert bleu_chrf(refs, refs, "zh")["bleu"] == pytest.approx(100.0)
    unsegmented = bleu_chrf(["下列软件包的版本将保持不变"], ["下列软件包的版本保持不变"], "13a")["bleu"]
    per_char = bleu_chrf(["下列软件包的版本将保持不变"], ["下列软件包的版本保持不变"], "zh")["bleu"]
    assert unsegmented == 0.0 and per_char > 50                                  # one sentence = one "word" in 13a
    import sacrebleu
    hyps, refs = ["the cat sat on the mat"], ["the cat is on the mat"]
    assert bleu_chrf(hyps, refs)["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert bleu_chrf(hyps, refs)["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)


def test_printf_compatibility_counts_all_messages_and_those_with_placeholders():
    srcs = ["%s: cannot open", "%s of %d", "Done", "Done"]
    hyps = ["%s：无法打开", "%d 的 %s", "完成", "完成 %s"]
    assert printf_compatibility(hyps, srcs) == {"n": 2, "total": 4, "n_with": 1, "total_with": 2}

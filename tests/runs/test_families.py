"""lmlab.runs.families: every registered family's "module:attr" strings resolve, unknown names are refused
with the list of families, a family builds its model from a preset, and the registry imports no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lmlab.errors import LmlabError
from lmlab.runs import families
from lmlab.runs.families import FAMILIES, Family, resolve


def references(family: Family) -> dict[str, str]:
    """Every "module:attr" string a family names."""
    refs = {f"configs[{section}]": ref for section, ref in family.configs.items()}
    refs |= {f"defaults[{section}]": ref for section, ref in family.defaults.items()}
    refs |= {f"heads[{task}]": ref for task, ref in family.heads.items()}
    refs |= {name: getattr(family, name) for name in ("model", "presets", "count", "train")
             if getattr(family, name) is not None}
    return refs


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_reference_of_a_family_resolves(name):
    family = FAMILIES[name]
    assert family.name == name and family.summary and family.configs and "model" in family.configs
    for what, ref in references(family).items():
        assert ":" in ref, (what, ref)
        obj = resolve(ref)
        assert obj is not None, (what, ref)
        if what.startswith(("configs[", "heads[")) or what == "model":
            assert callable(obj), (what, ref)
    classes = family.config_classes()
    assert list(classes) == list(family.configs) and all(isinstance(c, type) for c in classes.values())
    defaults = family.default_configs()
    for section, value in defaults.items():
        assert isinstance(value, classes[section]), section
    if family.presets:
        assert family.preset_names()
        if family.default_preset:
            assert family.default_preset in family.preset_names()
            assert isinstance(family.preset(family.default_preset), classes["model"])
    assert set(family.defaults) <= set(family.configs)


def test_the_registry_holds_the_known_families():
    assert {"gpt", "bert", "bert-classifier", "seq2seq"} <= set(FAMILIES)
    assert {f.name for f in families.trainable()} >= {"gpt", "bert", "seq2seq"}
    assert families.get("gpt") is FAMILIES["gpt"]
    assert families.get("gpt", "generate") is FAMILIES["gpt"]


def test_get_refuses_an_unknown_family_and_lists_the_known_ones():
    with pytest.raises(LmlabError) as e:
        families.get("mamba")
    message = str(e.value)
    assert "unknown model family 'mamba'" in message
    assert all(name in message for name in FAMILIES)


def test_get_refuses_a_command_the_family_does_not_take():
    with pytest.raises(LmlabError) as e:
        families.get("gpt", "translate")
    assert "`lmlab translate` does not take a 'gpt' run" in str(e.value) and "seq2seq" in str(e.value)


def test_registering_a_family_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        families.register(FAMILIES["gpt"])


def test_resolve_follows_dotted_attributes():
    from lmlab.models.bert.model import BertForSequenceClassification
    assert resolve("lmlab.models.bert.model:BertForSequenceClassification.from_sections") == \
        BertForSequenceClassification.from_sections
    with pytest.raises(AttributeError):
        resolve("lmlab.models.gpt.model:NoSuchThing")


def test_the_gpt_family_builds_its_model_from_a_preset():
    from lmlab.models.gpt import GPT
    from lmlab.models.gpt.presets import count_parameters
    gpt = FAMILIES["gpt"]
    cfg = gpt.preset("tiny")
    model = gpt.build({"model": cfg})
    assert isinstance(model, GPT) and model.cfg == cfg
    assert resolve(gpt.count)(cfg) == count_parameters(cfg) == model.num_parameters()
    with pytest.raises(LmlabError, match="preset 'huge'.*tiny"):   # the error lists the presets
        gpt.preset("huge")


def test_importing_the_registry_imports_no_torch():
    code = ("import sys, lmlab.runs.families as f; assert f.FAMILIES; "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout

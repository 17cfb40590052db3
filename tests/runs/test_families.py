"""lmlab.runs.families: every registered family's "module:attr" strings resolve (and those naming a layer above
runs/ are resolved only up there), unknown names are refused with the list of families, a family builds its
model from a preset, and the registry imports no torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import lmlab
from lmlab.errors import LmlabError
from lmlab.runs import families
from lmlab.runs.families import FAMILIES, UPWARD, references, resolve


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_reference_of_a_family_resolves(name):
    family = FAMILIES[name]
    assert family.name == name and family.summary and family.configs and "model" in family.configs
    for what, ref in references(family).items():
        assert ":" in ref and ref.startswith("lmlab."), (what, ref)
        obj = resolve(ref)
        assert obj is not None, (what, ref)
        if what.startswith(("configs[", "heads[", "hf[")) or what in ("model", "count", "train", "memory",
                                                                       "batches", "init_config", "token_vectors"):
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


def test_references_cover_every_kind_of_field():
    """references() finds the strings of every field marked as one, into mappings and Converters."""
    found = {what.partition("[")[0].partition(".")[0] for f in FAMILIES.values() for what in references(f)}
    assert found >= {"configs", "model", "presets", "count", "memory", "defaults", "hf", "heads", "batches", "train",
                     "init_config", "token_vectors"}
    assert references(FAMILIES["gpt"])["hf[llama].unsupported"] == "lmlab.io.hf_llama:unsupported_by_llama"


HIGHER = ("lmlab.cli", "lmlab.recipes", "lmlab.tools")  # the layers above runs/ (pyproject.toml's contract)


def test_only_upward_fields_name_a_higher_layer():
    """A string that names a recipe or a tool stands only in a field listed in UPWARD."""
    for family in FAMILIES.values():
        for what, ref in references(family).items():
            if ref.startswith(tuple(f"{layer}." for layer in HIGHER)):
                assert what.partition("[")[0] in UPWARD, (family.name, what, ref)


def _resolves_upward(tree: ast.AST) -> list[str]:
    """Where a module resolves an UPWARD field: resolve(x.train) and the like, or x.default_configs()."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (getattr(node.func, "id", None) or getattr(node.func, "attr", None)) \
                == "resolve" and node.args and isinstance(node.args[0], ast.Attribute) \
                and node.args[0].attr in UPWARD:
            out.append(f"line {node.lineno}: resolve(….{node.args[0].attr})")
        if isinstance(node, ast.Attribute) and node.attr == "default_configs" and "defaults" in UPWARD:
            out.append(f"line {node.lineno}: .default_configs()")
    return out


def test_no_module_of_runs_or_below_resolves_an_upward_field():
    """The strings that name lmlab.recipes or lmlab.tools are resolved by the CLI, a recipe or a tool only, so the
    lazy registry never hides an upward import from import-linter."""
    root = Path(lmlab.__file__).parent
    higher = {layer.split(".")[1] for layer in HIGHER}
    below = [p for p in root.rglob("*.py") if p.relative_to(root).parts[0] not in higher
             and p.name != "registry.py"]  # the registry defines the methods (default_configs) it is about
    assert any("runs" in p.parts for p in below) and not any("recipes" in p.parts for p in below)
    bad = {str(p.relative_to(root)): hits for p in below if (hits := _resolves_upward(ast.parse(p.read_text())))}
    assert not bad, bad


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

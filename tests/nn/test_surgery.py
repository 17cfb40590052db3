"""lmlab.nn.surgery: naming layers of a built model (presets, suffixes, globs, regexes) and swapping one in place;
a wrapped layer is taken, neither the wrapper nor its base is chosen again."""

import pytest
from torch import nn

from lmlab.errors import LmlabError
from lmlab.nn.surgery import (
    PRESETS,
    LayerWrapper,
    name_matches,
    resolve_targets,
    set_module,
    targetable_names,
)


class Attn(nn.Module):
    def __init__(self, d: int = 4):
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))


class FF(nn.Module):
    def __init__(self, d: int = 4):
        super().__init__()
        self.up, self.down = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn, self.ff, self.norm1 = Attn(), FF(), nn.LayerNorm(4)


class Toy(nn.Module):
    """A GPT's names without a GPT: tok_emb, blocks.{i}.attn.{q,k,v,out}_proj, blocks.{i}.ff.{up,down}, lm_head."""
    def __init__(self, n: int = 2):
        super().__init__()
        self.tok_emb = nn.Embedding(10, 4)
        self.blocks = nn.ModuleList(Block() for _ in range(n))
        self.lm_head = nn.Linear(4, 10)


class Wrapped(LayerWrapper):
    def __init__(self, base: nn.Module):
        super().__init__()
        self.base = base


def test_set_module_puts_a_module_in_place():
    model = Toy()
    new = nn.Linear(4, 4, bias=False)
    set_module(model, "blocks.1.attn.q_proj", new)
    assert model.get_submodule("blocks.1.attn.q_proj") is new and model.blocks[0].attn.q_proj is not new
    head = nn.Identity()
    set_module(model, "lm_head", head)                                   # a top-level name
    assert model.lm_head is head


@pytest.mark.parametrize("name, pattern, hit", [
    ("blocks.3.attn.q_proj", "q_proj", True),            # a dotted suffix
    ("blocks.3.attn.q_proj", "attn.q_proj", True),
    ("blocks.3.attn.q_proj", "_proj", False),            # not a part of a name
    ("blocks.3.attn.q_proj", "blocks.3.attn.q_proj", True),
    ("blocks.3.attn.q_proj", "blocks.*.q_proj", True),   # a glob: the whole name
    ("blocks.3.attn.q_proj", "*.k_proj", False),
    ("blocks.3.attn.q_proj", r"re:blocks\.[0-3]\..*", True),
    ("blocks.13.attn.q_proj", r"re:blocks\.[0-3]\..*", False),   # a regex: a full match
])
def test_name_matches(name, pattern, hit):
    assert name_matches(name, pattern) is hit


def test_presets_pick_linear_layers_in_model_order():
    model = Toy()
    assert resolve_targets(model, ("qv",)) == [f"blocks.{i}.attn.{p}" for i in range(2) for p in ("q_proj", "v_proj")]
    chosen = resolve_targets(model, ("ff", "qkvo"))
    assert chosen == [n for n in targetable_names(model) if n in chosen]        # model order, not target order
    assert len(chosen) == 2 * (4 + 2)
    every = resolve_targets(model, ("all-linear",))
    assert "lm_head" not in every and "tok_emb" not in every and len(every) == 12   # output layer and embedding out
    assert resolve_targets(model, ("tok_emb", "lm_head")) == ["tok_emb", "lm_head"]  # named: chosen
    assert set(PRESETS) >= {"qv", "qkv", "qkvo", "ff", "all-linear"}


def test_a_wrapped_layer_is_chosen_no_more():
    model = Toy(n=1)
    set_module(model, "blocks.0.attn.q_proj", Wrapped(model.blocks[0].attn.q_proj))
    names = targetable_names(model)
    assert "blocks.0.attn.q_proj" not in names and "blocks.0.attn.q_proj.base" not in names
    assert resolve_targets(model, ("qv",)) == ["blocks.0.attn.v_proj"]


def test_a_target_that_matches_nothing_lists_what_there_is():
    with pytest.raises(LmlabError) as e:
        resolve_targets(Toy(), ("query",), what="LoRA target")
    message = str(e.value)
    assert message.startswith("LoRA target 'query' matches no linear or embedding layer of this Toy")
    assert "qv, qkv" in message and "blocks.0.attn.q_proj" in message and "its embeddings: tok_emb" in message

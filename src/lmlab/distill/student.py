"""A student from its teacher: fewer layers, everything else copied (Sanh et al. 2019, §3).

DistilBERT keeps the teacher's width and halves its depth, and starts "from the teacher by taking
one layer out of two"; the embeddings and the output head come along unchanged (the released
checkpoint took layers 0, 2, 4, 7, 9, 11 of BERT-base: give `layers="0,2,4,7,9,11"` for that).
Here that works for any lmlab model whose layers sit in a `blocks` list (GPT, BERT): the student
is the teacher's class and config with n_layers = len(layers), and its i-th block is a bit-for-bit
copy of teacher block layers[i].
"""

from __future__ import annotations

import dataclasses
import re

import torch
from torch import nn

from lmlab.errors import LmlabError

_BLOCK = re.compile(r"(^|\.)blocks\.(\d+)\.")


def parse_layers(spec: str, n_layers: int) -> tuple[int, ...]:
    """"every-other" -> (0, 2, 4, …) below n_layers; "0,2,4" -> (0, 2, 4), checked against the teacher."""
    if spec == "every-other":
        return tuple(range(0, n_layers, 2))
    try:
        layers = tuple(int(p) for p in spec.split(","))
    except ValueError:
        raise LmlabError(f"layers must be every-other or teacher layer numbers like 0,2,4; got '{spec}'") from None
    bad = [i for i in layers if not 0 <= i < n_layers]
    if bad:
        raise LmlabError(f"layer {bad[0]} is out of range: the teacher has {n_layers} layers, numbered 0 to "
                         f"{n_layers - 1}")
    if any(b <= a for a, b in zip(layers, layers[1:])):
        raise LmlabError(f"layers must be increasing and distinct (a student keeps the teacher's order), "
                         f"got {spec}")
    return layers


def student_config(teacher_cfg, n_layers: int):
    """The teacher's config with n_layers changed: same width, heads, vocabulary, context."""
    return dataclasses.replace(teacher_cfg, n_layers=n_layers)


@torch.no_grad()
def student_from_teacher(teacher: nn.Module, layers: tuple[int, ...], init: str = "teacher") -> nn.Module:
    """A model of the teacher's class with len(layers) blocks. init="teacher": block i is a copy of
    teacher block layers[i] and every other tensor (embeddings, norms, heads) a copy of the teacher's;
    init="random": freshly initialised (the same seed gives the same weights)."""
    student = type(teacher)(student_config(teacher.cfg, len(layers)))
    if init == "random":
        return student
    source = teacher.state_dict()

    def teacher_key(name: str) -> str:  # blocks.1.attn.q.weight -> blocks.{layers[1]}.attn.q.weight
        return _BLOCK.sub(lambda m: f"{m.group(1)}blocks.{layers[int(m.group(2))]}.", name, count=1)

    state = {name: source[teacher_key(name)] for name in student.state_dict()}
    student.load_state_dict(state, strict=True)  # copies the values into the student's own tensors
    return student

"""The family registry: every model family lmlab trains, loads and converts, registered once.

`registry` defines a Family and the lookups; the modules beside it register the families, by kind:
`language` (gpt, bert, seq2seq), `tasks` (heads fine-tuned on an encoder), `words` (word2vec, item2vec,
elmo), `vision` (cnn, vit). Adding a family is one `register(Family(...))` in the module of its kind (or a
new module imported below) plus the family's own modules. The import order is the registration order: a
Hugging Face folder or a model config goes to the first family that takes it (a BERT folder is "bert").
"""

import importlib

from lmlab.runs.families.registry import (
    FAMILIES,
    TRAIN,
    UPWARD,
    Converter,
    Family,
    get,
    of_model_config,
    references,
    register,
    resolve,
    trainable,
    with_preset,
)

KINDS = ("language", "tasks", "words", "vision")  # the modules that register families, in registration order
for _kind in KINDS:
    importlib.import_module(f"lmlab.runs.families.{_kind}")

__all__ = ["FAMILIES", "TRAIN", "UPWARD", "Converter", "Family", "get", "of_model_config", "references", "register",
           "resolve", "trainable", "with_preset", "KINDS"]

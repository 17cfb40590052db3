"""lmlab.models.vit.presets: the published parameter counts at 224², and the count of a built model."""

from __future__ import annotations

import pytest

from lmlab.errors import LmlabError
from lmlab.models.vit import ViTForImageClassification, count_parameters, preset
from lmlab.models.vit.presets import PRESETS, PUBLISHED


@pytest.mark.parametrize("name,rounded", [("vit-b16", "86M"), ("vit-l16", "304M"), ("vit-h14", "632M")])
def test_published_counts(name, rounded):
    assert count_parameters(preset(name)) == PUBLISHED[name]
    assert f"{PUBLISHED[name] // 10**6}M" == rounded                        # as the paper states them


def test_count_matches_a_built_model():
    for name in ("vit-digits", "vit-tiny", "vit-b16"):
        cfg = preset(name)
        assert ViTForImageClassification(cfg).num_parameters() == count_parameters(cfg), name
    assert count_parameters(preset("vit-digits", pooler=True, n_classes=0)) == \
        ViTForImageClassification(preset("vit-digits", pooler=True, n_classes=0)).num_parameters()


def test_presets_and_unknown_name():
    assert {"vit-b16", "vit-l16", "vit-h14", "vit-digits"} <= set(PRESETS)
    assert preset("vit-digits").n_channels == 1 and preset("vit-digits").image_size == 8
    with pytest.raises(LmlabError, match="vit-b16"):
        preset("vit-b32")

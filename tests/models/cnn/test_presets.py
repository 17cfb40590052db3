"""CNN presets: the published parameter counts, exactly (counted on the meta device)."""

from __future__ import annotations

import pytest

from lmlab.errors import LmlabError
from lmlab.models.cnn.presets import PRESETS, PUBLISHED, count_parameters, preset


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_counts(name):
    assert count_parameters(preset(name)) == PUBLISHED[name]


def test_the_two_alexnets():
    """The paper's one-tower AlexNet has LRN and 96-256-384-384-256 channels; the common variant neither."""
    paper, common = preset("alexnet"), preset("alexnet-tv")
    assert (paper.lrn, paper.channels) == (True, (96, 256, 384, 384, 256))
    assert (common.lrn, common.channels) == (False, (64, 192, 384, 256, 256))
    assert (PUBLISHED["alexnet"], PUBLISHED["alexnet-tv"]) == (62_378_344, 61_100_840)


def test_every_preset_builds_and_unknown_is_refused():
    for name in PRESETS:
        assert count_parameters(preset(name)) > 0
    with pytest.raises(LmlabError, match="resnet18"):
        preset("resnet19")

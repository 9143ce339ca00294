"""S2IConfig's checks by value (issue 18, mutation testing): the temporal-crop bounds, ends included."""

import pytest

from s2i.encode import S2IConfig
from s2i.encode.config import check_crop_fraction


@pytest.mark.parametrize("crop", [(0.5, 0.5), (1.0, 1.0), (0.01, 1.0), (0.25, 0.75), None])
def test_crops_inside_the_bounds_are_kept(crop):
    assert check_crop_fraction(crop) == crop
    assert S2IConfig(temporal_crop=crop).temporal_crop == crop


@pytest.mark.parametrize("crop", [(0.0, 0.5), (0.6, 0.5), (0.5, 1.5), (-0.2, 0.5), (1.0, 1.01)])
def test_crops_outside_the_bounds_are_refused(crop):
    with pytest.raises(ValueError) as e:
        check_crop_fraction(crop)
    assert str(e.value) == f"temporal_crop must satisfy 0 < min <= max <= 1, got {crop}"

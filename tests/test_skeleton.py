import numpy as np
import pytest

from s2i import SkeletonSequence
from s2i.skeleton import SkeletonValidationError


def test_valid_sequence_and_mask():
    j = np.zeros((2, 5, 25, 3), dtype=np.float64)
    j[1, 2:, 4] = np.nan
    s = SkeletonSequence(j, format="ntu25", fps=30, meta={"label": 3, "source": "x.skeleton"})
    assert s.joints.dtype == np.float32
    assert (s.num_persons, s.num_frames, s.num_joints, s.dims) == (2, 5, 25, 3)
    assert s.valid.shape == (2, 5, 25)
    assert not s.valid[1, 3, 4] and s.valid[0, 3, 4]
    assert s.label == 3


@pytest.mark.parametrize("shape, msg", [((5, 25, 3), "4 axes"), ((1, 5, 25, 4), "2 or 3 coordinates"),
                                         ((1, 0, 25, 3), "at least one")])
def test_shape_errors(shape, msg):
    with pytest.raises(SkeletonValidationError, match=msg):
        SkeletonSequence(np.zeros(shape), format="ntu25")


def test_inf_reports_location():
    j = np.zeros((1, 4, 25, 3))
    j[0, 2, 7, 1] = np.inf
    with pytest.raises(SkeletonValidationError,
                       match=r"from f\.txt: infinite coordinate at person 0, frame 2, joint 7"):
        SkeletonSequence(j, format="ntu25", meta={"source": "f.txt"})


def test_confidence_shape_and_fps():
    with pytest.raises(SkeletonValidationError, match="confidence"):
        SkeletonSequence(np.zeros((1, 4, 17, 2)), format="coco17", confidence=np.ones((1, 4, 16)))
    with pytest.raises(SkeletonValidationError, match="fps"):
        SkeletonSequence(np.zeros((1, 4, 17, 2)), format="coco17", fps=0)

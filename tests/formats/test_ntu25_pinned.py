"""The ntu25 spec pinned joint by joint: the joint order of the NTU .skeleton files, the bone tree (which
drives the bone stream of the main data set), the centre, hips/shoulders, left/right pairs and parts.
A change here is a change of every NTU/PKU-MMD image: edit this table only on purpose."""

import numpy as np
import torch

from s2i.encode.streams import apply_stream
from s2i.formats import SPEC_DIR, get_format, load_format_file

# (1-based NTU joint number, name, 1-based parent number or None) as in the NTU RGB+D documentation
NTU25 = [
    (1, "SpineBase", None), (2, "SpineMid", 1), (3, "Neck", 21), (4, "Head", 3),
    (5, "ShoulderLeft", 21), (6, "ElbowLeft", 5), (7, "WristLeft", 6), (8, "HandLeft", 7),
    (9, "ShoulderRight", 21), (10, "ElbowRight", 9), (11, "WristRight", 10), (12, "HandRight", 11),
    (13, "HipLeft", 1), (14, "KneeLeft", 13), (15, "AnkleLeft", 14), (16, "FootLeft", 15),
    (17, "HipRight", 1), (18, "KneeRight", 17), (19, "AnkleRight", 18), (20, "FootRight", 19),
    (21, "SpineShoulder", 2), (22, "HandTipLeft", 8), (23, "ThumbLeft", 8),
    (24, "HandTipRight", 12), (25, "ThumbRight", 12),
]


def test_the_file_loads_to_the_registered_spec():
    # the file read now, not the registry's cached copy (loaded once per process, before any test)
    assert load_format_file(SPEC_DIR / "ntu25.yaml") == get_format("ntu25")


def test_joint_order_and_bone_tree_are_pinned():
    spec = get_format("ntu25")
    assert list(spec.joints) == [name for _, name, _ in NTU25]
    want = [k - 1 if p is None else p - 1 for k, _, p in NTU25]
    assert spec.parent_indices.tolist() == want
    assert sorted(spec.bones) == sorted((k - 1, p - 1) for k, _, p in NTU25 if p is not None)
    assert len(spec.bones) == 24


def test_centre_axes_sides_and_parts_are_pinned():
    spec = get_format("ntu25")
    assert spec.center_indices.tolist() == [0]
    assert tuple(spec.hips) == ("HipLeft", "HipRight") and tuple(spec.shoulders) == ("ShoulderLeft", "ShoulderRight")
    assert spec.flip_indices.tolist() == [0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15,
                                          20, 23, 24, 21, 22]
    parts = [[spec.joints[i] for i in p] for p in spec.part_indices]
    assert parts == [
        ["SpineBase", "SpineMid", "SpineShoulder", "Neck", "Head"],
        ["ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft", "HandTipLeft", "ThumbLeft"],
        ["ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HandTipRight", "ThumbRight"],
        ["HipLeft", "KneeLeft", "AnkleLeft", "FootLeft"],
        ["HipRight", "KneeRight", "AnkleRight", "FootRight"],
    ]
    assert spec.dims == 3 and not spec.y_down


def test_bone_stream_is_joint_minus_its_ntu_parent():
    spec = get_format("ntu25")
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(1, 1, 3, 25, 3)).astype(np.float32))
    bone = apply_stream(x, spec, "bone", torch.tensor([3]))
    for k, name, p in NTU25:
        want = torch.zeros(3) if p is None else x[0, 0, :, k - 1] - x[0, 0, :, p - 1]
        torch.testing.assert_close(bone[0, 0, :, k - 1], want.expand(3, 3) if p is None else want, msg=name)

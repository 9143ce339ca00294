"""BVH and ASF/AMC readers: CMU files (skipped when absent), exact forward kinematics on toy skeletons,
user formats, the BVH-vs-AMC cross-check, and malformed input."""

from __future__ import annotations

import numpy as np
import pytest

from s2i.formats import get_format
from s2i.readers import ReaderError, read_sequence
from s2i.readers.asf_amc import (
    CMU_UNIT_TO_METRES,
    asf_positions,
    find_asf,
    read_amc,
    read_amc_file,
    read_asf,
    read_asf_amc,
)
from s2i.readers.bvh import bvh_positions, parse_bvh, read_bvh
from s2i.readers.kinematics import axis_rotation, euler_matrix

from helpers import data_path

MOCAP = "mocap_samples"

# --- toy files (also used by test_fuzz_mocap.py) ---------------------------------------------------

TOY_BVH_HEADER = """HIERARCHY
ROOT Pelvis
{
\tOFFSET 0 0 0
\tCHANNELS 6 Xposition Yposition Zposition Yrotation Xrotation Zrotation
\tJOINT Chest
\t{
\t\tOFFSET 0 10 0
\t\tCHANNELS 3 Xrotation Yrotation Zrotation
\t\tJOINT Head
\t\t{
\t\t\tOFFSET 0 8 0
\t\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\t\tEnd Site
\t\t\t{
\t\t\t\tOFFSET 0 4 0
\t\t\t}
\t\t}
\t\tJOINT LArm
\t\t{
\t\t\tOFFSET 5 6 0
\t\t\tCHANNELS 3 Zrotation Yrotation Xrotation
\t\t\tEnd Site
\t\t\t{
\t\t\t\tOFFSET 8 0 0
\t\t\t}
\t\t}
\t\tJOINT RArm
\t\t{
\t\t\tOFFSET -5 6 0
\t\t\tCHANNELS 3 Zrotation Yrotation Xrotation
\t\t\tEnd Site
\t\t\t{
\t\t\t\tOFFSET -8 0 0
\t\t\t}
\t\t}
\t}
\tJOINT LLeg
\t{
\t\tOFFSET 3 -2 0
\t\tCHANNELS 3 Zrotation Yrotation Xrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0 -16 0
\t\t}
\t}
\tJOINT RLeg
\t{
\t\tOFFSET -3 -2 0
\t\tCHANNELS 3 Zrotation Yrotation Xrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0 -16 0
\t\t}
\t}
}
"""
TOY_BVH_JOINTS = ["Pelvis", "Chest", "Head", "LArm", "RArm", "LLeg", "RLeg"]

# a user format for the toy BVH, listing the joints in a different order than the file
TOY_BVH_YAML = """name: toy7
description: toy 7-joint BVH skeleton
joints: [Pelvis, LLeg, RLeg, Chest, Head, LArm, RArm]
parents: {Pelvis: null, LLeg: Pelvis, RLeg: Pelvis, Chest: Pelvis, Head: Chest, LArm: Chest, RArm: Chest}
center: Pelvis
hips: [LLeg, RLeg]
shoulders: [LArm, RArm]
left_right: [[LArm, RArm], [LLeg, RLeg]]
parts: {torso: [Pelvis, Chest, Head], left_arm: [LArm], right_arm: [RArm], left_leg: [LLeg],
        right_leg: [RLeg]}
"""


def toy_bvh(frames: int = 12, seed: int = 0) -> str:
    """A 7-joint BVH with smooth random motion (24 channels per frame)."""
    rng = np.random.default_rng(seed)
    ph = np.linspace(0, 2 * np.pi, frames)[:, None]
    motion = 40 * np.sin(ph + rng.uniform(0, 6, 24)) * rng.uniform(0.2, 1, 24)
    motion[:, :3] = rng.normal(0, 5, 3) + np.cumsum(rng.normal(0, 0.3, (frames, 3)), 0)
    body = "\n".join(" ".join(f"{v:.4f}" for v in row) for row in motion)
    return f"{TOY_BVH_HEADER}MOTION\nFrames: {frames}\nFrame Time: 0.04\n{body}\n"


def toy_asf() -> str:
    """A small ASF: spine/head, arms with hands (axis-rotated frames), legs; comments included."""
    def bone(i, name, d, length, axis, dof):
        dof_line = f"    dof {dof}\n    limits (-180.0 180.0)\n" if dof else ""
        extra = "".join("           (-180.0 180.0)\n" for _ in dof.split()[1:]) if dof else ""
        return (f"  begin\n     id {i}\n     name {name}\n     direction {d}\n     length {length}\n"
                f"     axis {axis} XYZ\n{dof_line}{extra}  end\n")
    bones = [("spine", "0 1 0", 10, "0 0 0", "rx ry rz"), ("head", "0 1 0", 8, "0 0 0", "rx ry rz"),
             ("larm", "1 0 0", 8, "0 0 90", "rx"), ("lhand", "1 0 0", 2, "0 0 0", ""),
             ("rarm", "-1 0 0", 8, "0 0 0", "rx rz"), ("rhand", "-1 0 0", 2, "0 0 0", ""),
             ("lleg", "0 -1 0", 16, "0 0 0", "rx"), ("rleg", "0 -1 0", 16, "0 0 0", "rx")]
    return ("# toy skeleton\r\n# second comment line\r\n:version 1.10\r\n:name toy\r\n:units\r\n"
            "  mass 1.0\r\n  length 0.45\r\n  angle deg\r\n:documentation\r\n  made for the s2i tests\r\n:root\r\n"
            "   order TX TY TZ RX RY RZ\r\n   axis XYZ\r\n   position 0 0 0\r\n   orientation 0 0 0\r\n"
            ":bonedata\r\n" + "".join(bone(i + 1, *b) for i, b in enumerate(bones)).replace("\n", "\r\n")
            + ":hierarchy\r\n  begin\r\n    root spine lleg rleg\r\n    spine head larm rarm\r\n"
            "    larm lhand\r\n    rarm rhand\r\n  end\r\n")


TOY_ASF_YAML = """name: toyasf
joints: [root, spine, head, larm, lhand, rarm, rhand, lleg, rleg]
parents: {root: null, spine: root, head: spine, larm: spine, lhand: larm, rarm: spine, rhand: rarm,
          lleg: root, rleg: root}
center: root
parts: {torso: [root, spine, head], left_arm: [larm, lhand], right_arm: [rarm, rhand],
        left_leg: [lleg], right_leg: [rleg]}
"""

AMC_ORDER = ["root", "spine", "head", "larm", "rarm", "lleg", "rleg"]


def toy_amc(values: list[dict[str, list[float]]]) -> str:
    """AMC text: one dict bone -> values per frame (missing bones are zeros)."""
    n = {"root": 6, "spine": 3, "head": 3, "larm": 1, "rarm": 2, "lleg": 1, "rleg": 1}
    out = ["#!OML:ASF toy.asf", "# a comment", ":FULLY-SPECIFIED", ":DEGREES"]
    for f, vals in enumerate(values, start=1):
        out.append(str(f))
        for b in AMC_ORDER:
            out.append(b + " " + " ".join(f"{v:.10g}" for v in vals.get(b, [0.0] * n[b])))
    return "\r\n".join(out) + "\r\n"


def random_amc(frames: int = 10, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    n = {"root": 6, "spine": 3, "head": 3, "larm": 1, "rarm": 2, "lleg": 1, "rleg": 1}
    return toy_amc([{b: list(np.round(rng.uniform(-60, 60, k), 4)) for b, k in n.items()}
                    for _ in range(frames)])


def write(tmp_path, name: str, text: str):
    p = tmp_path / name
    p.write_text(text, newline="")
    return p


# --- rotations -------------------------------------------------------------------------------------

def test_axis_rotations_are_right_handed():
    q = np.pi / 2
    assert np.allclose(axis_rotation("z", q) @ [1, 0, 0], [0, 1, 0])
    assert np.allclose(axis_rotation("x", q) @ [0, 1, 0], [0, 0, 1])
    assert np.allclose(axis_rotation("y", q) @ [0, 0, 1], [1, 0, 0])
    a = np.array([[0.3, -0.2, 1.1]])
    r = euler_matrix(a, "zyx")[0]
    assert np.allclose(r, axis_rotation("z", 0.3) @ axis_rotation("y", -0.2) @ axis_rotation("x", 1.1))


# --- BVH: real CMU file ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cmu_bvh():
    return read_bvh(data_path(MOCAP, "01_01.bvh"))


def test_cmu_bvh_shape_fps_format(cmu_bvh):
    s = cmu_bvh
    assert s.joints.shape == (1, 2752, 31, 3) and s.joints.dtype == np.float32
    assert s.fps == 120.0 and s.format == "cmu31"
    assert s.meta["subject"] == 1 and s.meta["trial"] == 1 and s.meta["source"].endswith("01_01.bvh")
    assert "1/0.45 inch" in s.meta["units"]
    assert not np.isnan(s.joints).any()


def test_cmu_bvh_bone_lengths_constant_and_equal_offsets(cmu_bvh):
    spec = get_format("cmu31")
    j = cmu_bvh.joints[0].astype(np.float64)
    child, parent = np.array(spec.bones).T
    lengths = np.linalg.norm(j[:, child] - j[:, parent], axis=-1)
    assert np.ptp(lengths, axis=0).max() < 1e-4
    data = parse_bvh(data_path(MOCAP, "01_01.bvh"))
    offsets = {jt.name: np.linalg.norm(jt.offset) for jt in data.joints}
    assert np.allclose(lengths[0], [offsets[spec.joints[c]] for c in child], atol=1e-4)


def test_cmu_bvh_feet_below_head(cmu_bvh):
    spec = get_format("cmu31")
    y = cmu_bvh.joints[0, :, :, 1]
    head = y[:, spec.index("Head")]
    for foot in ("LeftFoot", "RightFoot", "LeftToeBase", "RightToeBase"):
        assert (y[:, spec.index(foot)] < head).all()


def test_cmu_bvh_registered_reader_and_scale():
    import s2i.readers.bvh  # noqa: F401  (registers "bvh")
    p = data_path(MOCAP, "01_01.bvh")
    s = read_sequence(p)
    assert s.format == "cmu31" and s.num_frames == 2752
    m = read_bvh(p, scale=CMU_UNIT_TO_METRES)
    assert m.meta["units"] == "m"
    height = m.joints[0, 1, get_format("cmu31").index("Head"), 1] - m.joints[0, 1, :, 1].min()
    assert 1.2 < height < 1.9  # an adult, head joint above the toes, in metres
    assert np.allclose(m.joints, s.joints * CMU_UNIT_TO_METRES, atol=1e-5)


# --- ASF/AMC: real CMU files -----------------------------------------------------------------------

@pytest.mark.parametrize("asf, amc, frames", [("01.asf", "01_01.amc", 2751), ("11.asf", "11_01.amc", 597)])
def test_cmu_asf_amc(asf, amc, frames):
    sk = read_asf(data_path(MOCAP, asf))
    assert len(sk.bones) == 30 and sk.length_unit == 0.45 and sk.angle_unit == "deg"
    assert sk.root_order == ("tx", "ty", "tz", "rx", "ry", "rz") and sk.root_axis == "XYZ"
    assert sk.bones["lfemur"].dof == ("rx", "ry", "rz") and sk.bones["lfoot"].dof == ("rx", "rz")
    s = read_amc(data_path(MOCAP, amc), sk)
    assert s.joints.shape == (1, frames, 31, 3) and s.format == "cmu31" and s.fps == 120.0
    assert not np.isnan(s.joints).any()
    spec = get_format("cmu31")
    names = spec.extra["asf_names"]
    j = s.joints[0].astype(np.float64)
    child, parent = np.array(spec.bones).T
    lengths = np.linalg.norm(j[:, child] - j[:, parent], axis=-1)
    # a joint is its bone's start, so joint-to-parent distance = the parent bone's length
    want = [sk.bones[names[spec.joints[p]]].length if names[spec.joints[p]] != "root" else 0.0
            for p in parent]
    assert np.allclose(lengths, np.array(want)[None], atol=1e-4)
    y = j[:, :, 1]
    assert (y[:, spec.index("LeftToeBase")] < y[:, spec.index("Head")]).all()
    # the registered reader finds the skeleton next to the motion file
    r = read_sequence(data_path(MOCAP, amc))
    assert np.array_equal(r.joints, s.joints) and r.meta["asf"].endswith(asf)
    assert r.meta["subject"] == int(asf[:2])


def test_bvh_matches_amc_same_take():
    """01_01.bvh = 01.asf + 01_01.amc after the BVH's extra rest-pose frame. The cgspeed converter
    gives the thorax and both wrist bones zero length; with those zeroed, every joint agrees to the
    BVH's 4-decimal rounding (max error 9.2e-5 units); with the true ASF, the joints before them do."""
    bvh = read_bvh(data_path(MOCAP, "01_01.bvh")).joints[0, 1:]
    sk = read_asf(data_path(MOCAP, "01.asf"))
    amc_path = data_path(MOCAP, "01_01.amc")
    true = read_amc(amc_path, sk).joints[0]
    assert true.shape == bvh.shape
    spec = get_format("cmu31")
    below_thorax = [spec.index(n) for n in spec.joints[:14]]  # Hips .. Spine1 (the legs and spine)
    assert np.abs(bvh[:, below_thorax] - true[:, below_thorax]).max() < 1e-3
    for b in ("thorax", "lwrist", "rwrist"):
        sk.bones[b].length = 0.0
    conv = read_amc(amc_path, sk).joints[0]
    err = np.linalg.norm(bvh - conv, axis=-1)
    assert err.max() < 2e-4
    # with the real thorax the neck and arms sit one thorax length (2.06 units) higher up the chain
    neck = spec.index("Neck1")
    assert np.allclose(np.linalg.norm(true[:, neck] - bvh[:, neck], axis=-1), 2.06488, atol=1e-3)


# --- BVH: exact forward kinematics on toy files ----------------------------------------------------

CHAIN = """HIERARCHY
ROOT A
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT B
  {
    OFFSET 1 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT C
    {
      OFFSET 0 2 0
      CHANNELS 0
      End Site
      {
        OFFSET 0 0 1
      }
    }
  }
}
MOTION
Frames: 4
Frame Time: 0.0333333
0 0 0 0 0 0 0 0 0
0 0 0 90 0 0 0 0 0
5 0 0 0 0 0 0 90 0
0 0 0 0 0 0 90 90 0
"""


def test_bvh_fk_exact_chain(tmp_path):
    data = parse_bvh(write(tmp_path, "chain.bvh", CHAIN))
    assert [j.name for j in data.joints] == ["A", "B", "C"] and data.joints[2].end_sites
    pos = bvh_positions(data)
    want = np.array([
        [[0, 0, 0], [1, 0, 0], [1, 2, 0]],      # rest
        [[0, 0, 0], [0, 1, 0], [-2, 1, 0]],     # root Z +90: x -> y, y -> -x
        [[5, 0, 0], [6, 0, 0], [6, 0, 2]],      # root moved; B X +90 turns C's (0, 2, 0) to (0, 0, 2)
        [[0, 0, 0], [1, 0, 0], [1, 0, 2]],      # B: Z 90, X 90 in channel order -> Rz @ Rx, not Rx @ Rz
    ], dtype=float)
    assert np.allclose(pos, want, atol=1e-9)


def test_bvh_user_format_reorders_by_name(tmp_path):
    p = write(tmp_path, "toy.bvh", toy_bvh(12))
    spec_path = write(tmp_path, "toy7.yaml", TOY_BVH_YAML)
    with pytest.raises(ReaderError, match="format="):
        read_bvh(p)
    s = read_bvh(p, format=str(spec_path))
    assert s.format == "toy7" and s.joints.shape == (1, 12, 7, 3) and s.fps == 25.0
    raw = bvh_positions(parse_bvh(p))
    order = [TOY_BVH_JOINTS.index(j) for j in get_format(spec_path).joints]
    assert np.allclose(s.joints[0], raw[:, order], atol=1e-4)
    spec = get_format(spec_path)
    lengths = np.linalg.norm(s.joints[0][:, [c for c, _ in spec.bones]]
                             - s.joints[0][:, [q for _, q in spec.bones]], axis=-1)
    assert np.ptp(lengths, axis=0).max() < 1e-4
    # a spec naming a joint the file lacks is refused, naming it
    bad = write(tmp_path, "bad.yaml", TOY_BVH_YAML.replace("Head", "Skull"))
    with pytest.raises(ReaderError, match="Skull"):
        read_bvh(p, format=str(bad))


def _line_of(text: str, needle: str) -> int:
    return text.split("\n").index(next(ln for ln in text.split("\n") if needle in ln)) + 1


@pytest.mark.parametrize("case", ["no_motion", "channel_count", "unknown_keyword", "truncated_hierarchy",
                                  "truncated_motion", "bad_frames", "non_numeric", "nan", "bad_channel",
                                  "zero_frame_time", "empty", "extra_frames", "missing_offset"])
def test_bvh_malformed(tmp_path, case):
    text = toy_bvh(5)
    lines = text.split("\n")
    motion = lines.index("MOTION") + 1
    line = None
    if case == "no_motion":
        text, msg = "\n".join(lines[:motion - 1]) + "\n", "no MOTION"
    elif case == "channel_count":
        lines[motion + 4] += " 1.0"
        text, msg, line = "\n".join(lines), "expected 24 channel values", motion + 5
    elif case == "unknown_keyword":
        line = _line_of(text, "OFFSET 0 8 0")
        text, msg = text.replace("OFFSET 0 8 0", "OFSET 0 8 0"), "unknown keyword 'OFSET'"
    elif case == "truncated_hierarchy":
        text, msg = text[:text.index("JOINT RArm")], "file ends"
    elif case == "truncated_motion":
        text, msg, line = "\n".join(lines[:motion + 4]), "2 of the 5 frames", motion + 4
    elif case == "bad_frames":
        text, msg, line = text.replace("Frames: 5", "Frames: many"), "frame count", motion + 1
    elif case == "non_numeric":
        lines[motion + 3] = lines[motion + 3].replace(" ", " x", 1)
        text, msg, line = "\n".join(lines), "must be numbers", motion + 4
    elif case == "nan":
        lines[motion + 5] = "nan " + lines[motion + 5].split(" ", 1)[1]
        text, msg, line = "\n".join(lines), "non-finite", motion + 6
    elif case == "bad_channel":
        line = _line_of(text, "CHANNELS 3 Xrotation")
        text, msg = text.replace("CHANNELS 3 Xrotation", "CHANNELS 3 Wrotation"), "unknown channel"
    elif case == "zero_frame_time":
        text, msg, line = text.replace("Frame Time: 0.04", "Frame Time: 0"), "Frame Time", motion + 2
    elif case == "empty":
        text, msg = "", "HIERARCHY"
    elif case == "extra_frames":
        text, msg, line = text.replace("Frames: 5", "Frames: 3"), "5 motion lines", motion + 6
    elif case == "missing_offset":
        line = _line_of(text, "JOINT Head")
        text, msg = text.replace("\t\t\tOFFSET 0 8 0\n", ""), "has no OFFSET"
    p = write(tmp_path, "bad.bvh", text)
    with pytest.raises(ReaderError) as e:
        read_bvh(p, format=str(write(tmp_path, "toy7.yaml", TOY_BVH_YAML)))
    assert str(p) in str(e.value) and msg in str(e.value)
    if line is not None:
        assert e.value.line == line, str(e.value)


# --- ASF/AMC: exact forward kinematics on a toy skeleton -------------------------------------------

def test_asf_parse_toy(tmp_path):
    sk = read_asf(write(tmp_path, "toy.asf", toy_asf()))
    assert list(sk.bones) == ["spine", "head", "larm", "lhand", "rarm", "rhand", "lleg", "rleg"]
    assert sk.bones["larm"].parent == "spine" and sk.bones["spine"].parent == "root"
    assert np.allclose(sk.bones["larm"].axis, [0, 0, np.pi / 2]) and sk.bones["rarm"].dof == ("rx", "rz")
    assert sk.order()[0] == "root" and set(sk.order()) == {"root", *sk.bones}


def test_amc_fk_exact(tmp_path):
    sk = read_asf(write(tmp_path, "toy.asf", toy_asf()))
    amc = write(tmp_path, "toy_01.amc", toy_amc([
        {},                                          # rest pose
        {"larm": [90]},                              # rx about larm's frame: its x axis is world y
        {"root": [1, 2, 3, 0, 90, 0]},               # root moved and turned about y
        {"rarm": [90, 90]},                          # dof "rx rz": x applied first
    ]))
    s = read_amc(amc, sk, format=str(write(tmp_path, "toyasf.yaml", TOY_ASF_YAML)))
    assert s.format == "toyasf" and s.joints.shape == (1, 4, 9, 3)
    spec = get_format(tmp_path / "toyasf.yaml")
    j = s.joints[0].astype(np.float64)
    lhand, rhand, head = spec.index("lhand"), spec.index("rhand"), spec.index("head")
    assert np.allclose(j[0, [spec.index("root"), spec.index("spine"), head, lhand, rhand]],
                       [[0, 0, 0], [0, 0, 0], [0, 10, 0], [8, 10, 0], [-8, 10, 0]], atol=1e-5)
    assert np.allclose(j[1, lhand], [0, 10, -8], atol=1e-5)   # C Rx(90) C^-1 = Ry(90): x -> -z
    assert np.allclose(j[2, lhand], [1, 12, -5], atol=1e-5)   # (1,2,3) + Ry(90) (8, 10, 0)
    assert np.allclose(j[3, rhand], [0, 2, 0], atol=1e-5)     # Rz(90) Rx(90) (-8, 0, 0) = (0, -8, 0)
    names, pos = asf_positions(sk, {b: np.zeros((1, n)) for b, n in
                                    {"root": 6, "spine": 3, "head": 3, "larm": 1, "rarm": 2,
                                     "lleg": 1, "rleg": 1}.items()})
    assert np.allclose(pos[0, names.index("lhand")], [8, 10, 0])
    # CMU naming: the toy skeleton is not cmu31, so the default format is refused with advice
    with pytest.raises(ReaderError, match="format="):
        read_amc(amc, sk)
    # read_asf_amc and the registry (toy_01.amc -> toy.asf) agree
    yaml_path = str(tmp_path / "toyasf.yaml")
    assert np.array_equal(read_asf_amc(tmp_path / "toy.asf", amc, format=yaml_path).joints, s.joints)
    assert find_asf(amc) == tmp_path / "toy.asf"


def test_amc_ragged_layout_matches_fast_path(tmp_path):
    """Bones in a different order in one frame take the line-by-line path with the same result."""
    sk = read_asf(write(tmp_path, "toy.asf", toy_asf()))
    fmt = str(write(tmp_path, "toyasf.yaml", TOY_ASF_YAML))
    text = random_amc(6, seed=3)
    a = read_amc(write(tmp_path, "a.amc", text), sk, format=fmt)
    lines = text.split("\r\n")
    i = lines.index("3")
    lines[i + 1:i + 8] = lines[i + 1:i + 8][::-1]
    b = read_amc(write(tmp_path, "b.amc", "\r\n".join(lines)), sk, format=fmt)
    assert np.array_equal(a.joints, b.joints)


def test_amc_without_asf_and_radians(tmp_path):
    p = write(tmp_path, "42_07.amc", random_amc(3))
    with pytest.raises(ReaderError, match=r"42\.asf"):
        read_amc_file(p)
    sk = read_asf(write(tmp_path, "toy.asf", toy_asf()))
    fmt = str(write(tmp_path, "toyasf.yaml", TOY_ASF_YAML))
    deg = read_amc(write(tmp_path, "d.amc", toy_amc([{"larm": [90]}])), sk, format=fmt)
    rad = read_amc(write(tmp_path, "r.amc", toy_amc([{"larm": [np.pi / 2]}]).replace(":DEGREES", ":RADIANS")),
                   sk, format=fmt)
    assert np.allclose(deg.joints, rad.joints, atol=1e-5)


@pytest.mark.parametrize("case", ["value_count", "unknown_bone", "frame_number", "missing_bone", "nan",
                                  "no_frames", "header_garbage"])
def test_amc_malformed(tmp_path, case):
    sk = read_asf(write(tmp_path, "toy.asf", toy_asf()))
    lines = random_amc(4).split("\r\n")
    second = lines.index("2")
    if case == "value_count":
        lines[second + 4] += " 7"
        msg, line = "needs 1 values", second + 5
    elif case == "unknown_bone":
        lines[second + 2] = "neck 1 2 3"
        msg, line = "unknown bone 'neck'", second + 3
    elif case == "frame_number":
        lines[second] = "5"
        msg, line = "expected frame number 2", second + 1
    elif case == "missing_bone":
        del lines[second + 6]
        msg, line = "no values for bone(s) ['lleg']", second + 1
    elif case == "nan":
        lines[second + 1] = "root 0 0 nan 0 0 0"
        msg, line = "non-finite", second + 2
    elif case == "no_frames":
        lines = lines[:4]
        msg, line = "no frames", None
    else:
        lines[2] = "garbage here"
        msg, line = "expected a frame number", 3
    p = write(tmp_path, "bad.amc", "\r\n".join(lines))
    with pytest.raises(ReaderError) as e:
        read_amc(p, sk, format=str(write(tmp_path, "toyasf.yaml", TOY_ASF_YAML)))
    assert str(p) in str(e.value) and msg in str(e.value)
    if line is not None:
        assert e.value.line == line, str(e.value)


@pytest.mark.parametrize("case", ["unknown_keyword", "truncated", "bad_dof", "orphan", "unknown_parent",
                                  "bad_axis", "missing_hierarchy"])
def test_asf_malformed(tmp_path, case):
    text = toy_asf()
    lines = text.split("\r\n")
    line = None
    if case == "unknown_keyword":
        i = lines.index("     length 8")
        lines[i] = "     lenght 8"
        msg, line = "unknown keyword 'lenght'", i + 1
    elif case == "truncated":
        lines = lines[:lines.index("     name rarm") + 2]
        msg = "file ends inside the bone block"
    elif case == "bad_dof":
        i = lines.index("    dof rx rz")
        lines[i] = "    dof rx tx"
        msg, line = "unsupported or repeated bone dof", i + 1
    elif case == "orphan":
        lines.remove("    rarm rhand")
        msg = "['rhand'] are not in :hierarchy"
    elif case == "unknown_parent":
        i = lines.index("    larm lhand")
        lines[i] = "    lwing lhand"
        msg, line = "unknown bone 'lwing'", i + 1
    elif case == "bad_axis":
        i = next(k for k, ln in enumerate(lines) if ln.strip() == "axis 0 0 90 XYZ")
        lines[i] = "     axis 0 0 90 XYQ"
        msg, line = "permutation of XYZ", i + 1
    else:
        lines = lines[:lines.index(":hierarchy")]
        msg = "no :hierarchy"
    p = write(tmp_path, "bad.asf", "\r\n".join(lines))
    with pytest.raises(ReaderError) as e:
        read_asf(p)
    assert str(p) in str(e.value) and msg in str(e.value)
    if line is not None:
        assert e.value.line == line, str(e.value)

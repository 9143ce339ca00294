"""DeepMimic humanoid motions (pybullet_data): forward kinematics against the URDF, both output formats,
errors naming the file and frame. Skipped when pybullet is not installed."""

import importlib.util
import json

import numpy as np
import pytest

from s2i.formats import get_format
from s2i.readers import ReaderError, read_input, reader_for
from s2i.readers.deepmimic import (
    FRAME_LENGTH,
    URDF_SCALE,
    humanoid_urdf,
    motion_dir,
    parse_urdf,
    pybullet_data_dir,
    read_deepmimic_motion,
)

from helpers import reader_error

pytestmark = pytest.mark.skipif(importlib.util.find_spec("pybullet_data") is None,
                                reason="pybullet_data not installed (pip install pybullet, or the demo extra)")

H = get_format("humanoid3d")
K = get_format("kinect_v1")
#: humanoid3d joint -> the kinect_v1 joint at the same point
SHARED = {"root": "HipCenter", "chest": "Spine", "neck": "ShoulderCenter", "head": "Head",
          **{f"{s}_{j}": f"{k}{s.title()}" for s in ("left", "right")
             for j, k in (("shoulder", "Shoulder"), ("elbow", "Elbow"), ("wrist", "Wrist"), ("hip", "Hip"),
                          ("knee", "Knee"), ("ankle", "Ankle"))}}


def clip(name):
    return motion_dir() / f"humanoid3d_{name}.txt"


def frames(name):
    return np.array(json.loads(clip(name).read_text())["Frames"])


def rest_frame(root=(0.0, 0.9, 0.0), root_quat=(1, 0, 0, 0), knee=0.0):
    """One frame: root, identity joint rotations, both knees at ``knee`` radians, elbows straight.
    Layout: chest, neck, r hip, r knee, r ankle, r shoulder, r elbow, l hip, l knee, l ankle,
    l shoulder, l elbow."""
    out = [0.0333, *root, *root_quat, 1, 0, 0, 0, 1, 0, 0, 0]
    for _ in range(2):  # hip, knee, ankle, shoulder, elbow: right then left
        out += [1, 0, 0, 0, knee, 1, 0, 0, 0, 1, 0, 0, 0, 0.0]
    assert len(out) == FRAME_LENGTH
    return out


def write_motion(tmp_path, rows, name="humanoid3d_test.txt", loop="none"):
    p = tmp_path / name
    body = ",\n".join(json.dumps(r) for r in rows)
    p.write_text(f'{{\n"Loop": "{loop}",\n"Frames":\n[\n{body}\n]\n}}\n')
    return p


def test_rest_pose_is_the_urdf_offsets_by_hand(tmp_path):
    """Identity rotations: every point is the sum of the URDF joint origins (x 0.25) up the tree."""
    seq = read_deepmimic_motion(write_motion(tmp_path, [rest_frame(), rest_frame()]))
    kin = read_deepmimic_motion(write_motion(tmp_path, [rest_frame()], "k.txt"), format="kinect_v1")
    s = URDF_SCALE
    root = np.array([0.0, 0.9, 0.0])
    chest = root + s * np.array([0, 0.944604, 0])
    neck = chest + s * np.array([0, 0.895576, 0])
    r_sh = chest + s * np.array([-0.0962, 0.974, 0.73244])
    r_el = r_sh + s * np.array([0, -1.099152, 0])
    r_wr = r_el + s * np.array([0, -1.035788, 0])
    l_hip = root + s * np.array([0, 0, -0.339548])
    l_knee = l_hip + s * np.array([0, -1.686184, 0])
    l_ankle = l_knee + s * np.array([0, -1.63948, 0])
    want = {"root": root, "chest": chest, "neck": neck, "head": neck + s * np.array([0, 0.7, 0]),
            "right_shoulder": r_sh, "right_elbow": r_el, "right_wrist": r_wr, "left_hip": l_hip,
            "left_knee": l_knee, "left_ankle": l_ankle}
    for name, xyz in want.items():
        np.testing.assert_allclose(seq.joints[0, :, H.index(name)], np.broadcast_to(xyz, (2, 3)), atol=1e-6,
                                   err_msg=name)
    # kinect-only points from the link geometry: hand = wrist sphere (r 0.16) along the forearm, foot = box centre
    np.testing.assert_allclose(kin.joints[0, 0, K.index("HandRight")], r_wr + s * np.array([0, -0.16, 0]), atol=1e-6)
    np.testing.assert_allclose(kin.joints[0, 0, K.index("FootLeft")], l_ankle + s * np.array([0.18, -0.09, 0]),
                               atol=1e-6)
    # left is the humanoid's -z (it faces +x, y up): left joints negative z, right positive
    for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
        assert seq.joints[0, 0, H.index(f"left_{j}"), 2] < 0 < seq.joints[0, 0, H.index(f"right_{j}"), 2]
    assert seq.fps == 30.0 and seq.format == "humanoid3d" and seq.meta["label_name"] == "test"


def test_knee_and_root_rotations(tmp_path):
    """A knee angle of -90 degrees (about the URDF z axis) puts the ankle behind the knee (-x); a root
    quaternion of +90 degrees about y turns the right hip from +z to +x."""
    seq = read_deepmimic_motion(write_motion(tmp_path, [rest_frame(knee=-np.pi / 2)]))
    j = seq.joints[0, 0]
    d = j[H.index("right_ankle")] - j[H.index("right_knee")]
    np.testing.assert_allclose(d, [-URDF_SCALE * 1.63948, 0, 0], atol=1e-6)
    c = np.cos(np.pi / 4)
    seq = read_deepmimic_motion(write_motion(tmp_path, [rest_frame(root_quat=(c, 0, c, 0))], "r.txt"))
    j = seq.joints[0, 0]
    np.testing.assert_allclose(j[H.index("right_hip")] - j[H.index("root")], [URDF_SCALE * 0.339548, 0, 0], atol=1e-6)


@pytest.mark.parametrize("name", ["walk", "cartwheel", "kick", "roll"])
def test_bones_have_the_urdf_lengths_in_every_frame_and_the_root_follows_the_file(name):
    seq = read_deepmimic_motion(clip(name))
    robot = parse_urdf(humanoid_urdf())
    length = {j.child: URDF_SCALE * np.linalg.norm(j.xyz) for j in robot.joints}
    length["head"] = URDF_SCALE * np.linalg.norm(robot.geometry["neck"]["xyz"])
    x = seq.joints[0].astype(np.float64)
    for child, parent in zip(H.joints, H.parents):
        if parent is None:
            continue
        bone = np.linalg.norm(x[:, H.index(child)] - x[:, H.index(parent)], axis=-1)
        np.testing.assert_allclose(bone, length[child], atol=2e-5, err_msg=f"{name}: {parent}-{child}")
    np.testing.assert_allclose(x[:, H.index("root")], frames(name)[:, 1:4], atol=1e-6)
    assert seq.num_frames == len(frames(name))


def test_walk_feet_alternate_and_kinect_shares_the_humanoid_joints():
    seq = read_deepmimic_motion(clip("walk"))
    kin = read_deepmimic_motion(clip("walk"), format="kinect_v1")
    x = seq.joints[0]
    fwd = {s: x[:, H.index(f"{s}_ankle"), 0] - x[:, H.index("root"), 0] for s in ("left", "right")}
    assert np.corrcoef(fwd["left"], fwd["right"])[0, 1] < -0.8  # one foot forward while the other is back
    up = {s: x[:, H.index(f"{s}_ankle"), 1] for s in ("left", "right")}
    assert np.corrcoef(up["left"], up["right"])[0, 1] < -0.3  # one foot lifted while the other is down
    assert 0.0 < min(up["left"].min(), up["right"].min()) < 0.12  # ankles just above the floor (y = 0)
    for h, k in SHARED.items():
        np.testing.assert_array_equal(x[:, H.index(h)], kin.joints[0, :, K.index(k)], err_msg=h)
    assert kin.format == "kinect_v1" and kin.joints.shape == (1, 39, 20, 3)


def test_read_input_recognises_a_motion_file_and_not_other_text(tmp_path):
    assert reader_for(clip("run"))[0] == "deepmimic"
    assert read_input(clip("run")).format == "humanoid3d"
    assert read_input(clip("run"), fmt="kinect_v1").num_joints == 20
    numbers = tmp_path / "frames.txt"
    numbers.write_text("0 1 2\n3 4 5\n")
    assert reader_for(numbers)[0] != "deepmimic"
    other = tmp_path / "other.json"
    other.write_text('{"people": []}')
    with pytest.raises(ReaderError, match="no reader recognises"):
        reader_for(other)


@pytest.mark.parametrize("text, where", [
    ("not json at all", "invalid JSON"),
    ('{"Loop": "wrap"}', '"Frames" list'),
    ('{"Loop": "sometimes", "Frames": [[1]]}', '"Loop"'),
])
def test_bad_files_name_the_file(tmp_path, text, where):
    p = tmp_path / "humanoid3d_bad.txt"
    p.write_text(text)
    with pytest.raises(ReaderError, match=where) as e:
        read_deepmimic_motion(p)
    assert str(p) in str(e.value)


def test_bad_frames_name_the_file_frame_and_line(tmp_path):
    good = rest_frame()
    short = good[:-1]
    p = write_motion(tmp_path, [good, good, short])
    with pytest.raises(ReaderError, match=r"frame 2: expected 44 numbers.*got 43 values") as e:
        read_deepmimic_motion(p)
    assert str(p) in str(e.value) and e.value.line == 7  # the third frame line of the file
    nan = list(good)
    nan[3] = float("nan")
    p = write_motion(tmp_path, [good, nan], "nan.txt")
    with pytest.raises(ReaderError, match="frame 1: non-finite value") as e:
        read_deepmimic_motion(p)
    assert str(p) in str(e.value)
    zero = list(good)
    zero[12:16] = [0, 0, 0, 0]
    with pytest.raises(ReaderError, match="frame 0: neck quaternion is zero"):
        read_deepmimic_motion(write_motion(tmp_path, [zero], "zero.txt"))
    with pytest.raises(ReaderError, match="DeepMimic motions are read as humanoid3d or kinect_v1"):
        read_deepmimic_motion(clip("walk"), format="ntu25")


def test_pybullet_absent_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pybullet_data" else real(name, *a))
    with pytest.raises(FileNotFoundError, match="pip install pybullet"):
        pybullet_data_dir()


URDF_OK = ('<robot name="r">\n <link name="base"/>\n <link name="arm"><collision><origin xyz="0 0 1"/>'
           '<geometry><capsule radius="0.1" length="0.5"/></geometry></collision></link>\n'
           ' <joint name="shoulder" type="spherical"><parent link="base"/><child link="arm"/>'
           '<origin xyz="0 1 0"/></joint>\n</robot>')


@pytest.mark.parametrize("text, where", [
    ("<robot>\n<link name='a'>\n</robot>", ":3: not a valid URDF (XML error: mismatched tag"),
    ("<sdf/>", ": not a URDF: the root element is <sdf>, expected <robot>"),
    (URDF_OK.replace('<parent link="base"/>', ""), ": URDF joint 'shoulder' lacks <parent link=...>"),
    (URDF_OK.replace('xyz="0 1 0"', 'xyz="0 1"'), ": URDF <origin xyz='0 1'>: expected 3 finite numbers"),
    (URDF_OK.replace('<link name="base"/>', '<link name="base"/><link name="other"/>'),
     ": URDF must have one root link, found 2: base, other"),
    (URDF_OK.replace("</robot>", '<joint name="loop"><parent link="arm"/><child link="base"/></joint></robot>'),
     ": URDF must have one root link, found 0"),
    (URDF_OK.replace("</robot>", '<link name="b"/><joint name="self"><parent link="b"/><child link="b"/></joint>'
                                 "</robot>"),
     ": URDF joints do not form one tree under the root link"),
])
def test_bad_urdf_names_the_file(tmp_path, text, where):
    p = tmp_path / "robot.urdf"
    assert reader_error(parse_urdf, p, text).startswith(f"{p}{where}")


def test_urdf_tree_and_collision_shapes(tmp_path):
    p = tmp_path / "robot.urdf"
    p.write_text(URDF_OK)
    robot = parse_urdf(p)
    assert robot.root == "base" and [j.name for j in robot.joints] == ["shoulder"]
    np.testing.assert_array_equal(robot.joint_to("arm").xyz, [0, 1, 0])
    np.testing.assert_array_equal(robot.joints[0].axis, [1, 0, 0])
    g = robot.geometry["arm"]
    assert g["type"] == "capsule" and g["radius"] == 0.1 and g["length"] == 0.5 and "base" not in robot.geometry
    np.testing.assert_array_equal(g["xyz"], [0, 0, 1])

"""Bring your own data, custom formats: a user's YAML spec works in every command and travels in the store
(issue 13 items 1 and 2; spec validation of hips/shoulders and source_names)."""

import json
import pickle

import numpy as np
import pytest
import yaml

from s2i.cli import main
from s2i.data import SkeletonDataset
from s2i.encode import S2IConfig, S2IEncoder, dataset_value_range
from s2i.formats import FormatSpec, FormatSpecError, get_format, load_format_file, registry
from s2i.readers import ReaderError, read_sequence
from s2i.store import SkeletonStore


def my_format(tmp_path, reverse=True):
    """kinect_v1 renamed to my_format, joints in reversed storage order."""
    d = get_format("kinect_v1").to_dict()
    d["name"], d["aliases"] = "my_format", []
    if reverse:
        d["joints"] = d["joints"][::-1]
    path = tmp_path / "spec" / "my_format.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    return path


def motion(t=30, v=20, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.3, (v, 3)) + offset
    phase = np.linspace(0, 2 * np.pi, t)[:, None, None]
    return (base[None] + 0.1 * np.sin(phase + rng.uniform(0, 6, (1, v, 3)))).astype(np.float32)


def write_frames(path, x, index=None, sep=","):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for k, frame in enumerate(x):
        vals = [f"{a:.5f}" for a in frame.ravel()]
        if index is not None:
            vals = [str(index[k])] + vals
        lines.append(sep.join(vals))
    path.write_text("\n".join(lines) + "\n")


def test_custom_yaml_store_is_self_contained(tmp_path, capsys):
    spec_path = my_format(tmp_path)
    root = tmp_path / "data"
    for c, cls in enumerate(["wave", "kick"]):
        for i in range(3):
            write_frames(root / cls / f"{cls}_s{i + 1:02d}.csv", motion(seed=10 * c + i))
    store_dir = tmp_path / "store"
    assert main(["prepare", "folder", "--root", str(root), "--out", str(store_dir), "--format", str(spec_path),
                 "--workers", "1", "--quiet", "--split-by", r"xsub:train=_s0[12]\.", "--split-by",
                 r"xsub:test=_s03\."]) == 0
    spec_path.unlink()  # the store alone must be enough from here on
    registry._loaded.clear()
    with pytest.raises(FormatSpecError, match="unknown skeleton format 'my_format'"):
        get_format("my_format")
    st = SkeletonStore(store_dir)
    assert st.manifest["format"] == "my_format" and st.manifest["format_file"] == "format.yaml"
    assert st.format_spec.name == "my_format" and st.format_spec.joints[0] == "FootRight"
    assert load_format_file(store_dir / "format.yaml") == st.format_spec
    # Dataset, value ranges, encoder from the store's spec
    ds = SkeletonDataset(st, split="xsub", subset="train")
    assert ds.spec.name == "my_format" and len(ds) == 4
    cfg = S2IConfig()
    lo, hi = dataset_value_range(st, "xsub", cfg)
    enc = S2IEncoder(st.format_spec, cfg, range_lo=lo, range_hi=hi)
    assert enc.spec.num_joints == 20
    # every command that takes a store
    assert main(["encode", "--store", str(store_dir), "--out", str(tmp_path / "img"), "--size", "32"]) == 0
    assert len(list((tmp_path / "img").glob("*.png"))) == 6
    assert main(["inspect", str(store_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sequences"] == 6
    assert main(["export", str(store_dir), "--to", "pyskl", "--out", str(tmp_path / "x.pkl")]) == 0
    with open(tmp_path / "x.pkl", "rb") as f:
        assert len(pickle.load(f)["annotations"]) == 6


def test_custom_yaml_reorders_joints_by_name(tmp_path):
    """The same motion in kinect_v1 order and in a reversed custom order gives the same images."""
    spec_path = my_format(tmp_path)
    x = motion(t=25)
    write_frames(tmp_path / "a.csv", x)
    write_frames(tmp_path / "b.csv", x[:, ::-1])
    a = read_sequence(tmp_path / "a.csv", fmt="kinect_v1")
    b = read_sequence(tmp_path / "b.csv", fmt=str(spec_path))
    assert b.format == "my_format"
    from s2i.encode import encode
    ia = encode(a.joints, "kinect_v1", value_range="fixed")
    ib = encode(b.joints, load_format_file(spec_path), value_range="fixed")
    np.testing.assert_allclose(ia, ib, atol=1e-6)


def test_bad_hips_or_shoulders_name_the_field(tmp_path):
    d = get_format("kinect_v1").to_dict()
    d["hips"] = ["HipLeft", "HipRigth"]
    with pytest.raises(FormatSpecError, match="field 'hips': joint 'HipRigth' is not in 'joints'"):
        FormatSpec.from_dict(d, source="x.yaml")
    d = get_format("kinect_v1").to_dict()
    d["shoulders"] = ["ShoulderLeft"]
    with pytest.raises(FormatSpecError, match="x.yaml: 'shoulders' must be a \\[left, right\\] pair"):
        FormatSpec.from_dict(d, source="x.yaml")


def test_source_names_are_validated_and_round_trip():
    d = get_format("kinect_v1").to_dict()
    d["source_names"] = {"HipCenter": ["Hips", "pelvis"], "Head": "head"}
    spec = FormatSpec.from_dict(d, source="x.yaml")
    assert spec.names_in_file("HipCenter") == ("Hips", "pelvis") and spec.names_in_file("Spine") == ("Spine",)
    assert FormatSpec.from_dict(yaml.safe_load(spec.to_yaml())).source_names == spec.source_names
    d["source_names"] = {"Tail": "tail"}
    with pytest.raises(FormatSpecError, match="x.yaml: 'source_names' names unknown joint 'Tail'"):
        FormatSpec.from_dict(d, source="x.yaml")
    d["source_names"] = {"Head": 3}
    with pytest.raises(FormatSpecError, match=r"source_names\['Head'\] must be a name or a list"):
        FormatSpec.from_dict(d, source="x.yaml")


BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Chest
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT Head
    {
      OFFSET 0 5 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 2 0
      }
    }
  }
  JOINT LeftLeg
  {
    OFFSET 2 -10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 -1 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.04
0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
1 0 0 0 0 0 0 0 0 0 0 0 0 0 0
"""


def test_bvh_joints_are_mapped_by_name_and_missing_ones_fail(tmp_path):
    bvh = tmp_path / "rig.bvh"
    bvh.write_text(BVH)
    spec = {"name": "rig", "joints": ["Head", "Hips", "LeftLeg", "Chest", "Tail"],
            "parents": {"Hips": None, "Chest": "Hips", "Head": "Chest", "LeftLeg": "Hips", "Tail": "Hips"},
            "center": "Hips",
            "parts": {"torso": ["Hips"], "left_arm": ["Head"], "right_arm": ["Chest"], "left_leg": ["LeftLeg"],
                      "right_leg": ["Tail"]}}
    path = tmp_path / "rig.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ReaderError, match=r"rig\.bvh: format 'rig' names joint\(s\) Tail that this BVH lacks"):
        read_sequence(bvh, fmt=str(path))
    # source_names: a spec joint named differently from the file's joint
    spec["joints"][0] = "Skull"
    spec["parents"] = {"Hips": None, "Chest": "Hips", "Skull": "Chest", "LeftLeg": "Hips", "Tail": "Hips"}
    spec["parts"]["left_arm"] = ["Skull"]
    spec["source_names"] = {"Skull": "Head", "Tail": ["Tail", "LeftLeg"]}
    path.write_text(yaml.safe_dump(spec))
    seq = read_sequence(bvh, fmt=str(path))
    assert seq.format == "rig" and seq.joints.shape == (1, 2, 5, 3)
    # output follows the spec's order: Skull (= Head) at y 15, Hips at 0, LeftLeg at (2, -10)
    np.testing.assert_allclose(seq.joints[0, 0, 0], [0, 15, 0], atol=1e-5)
    np.testing.assert_allclose(seq.joints[0, 0, 1], [0, 0, 0], atol=1e-5)
    np.testing.assert_allclose(seq.joints[0, 1, 2], [3, -10, 0], atol=1e-5)

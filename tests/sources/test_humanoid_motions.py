"""`s2i prepare humanoid-motions`: the pybullet_data humanoid clips as a multi-view data set with no
download. Skipped when pybullet is not installed."""

import importlib.util

import numpy as np
import pytest

from s2i.formats import get_format
from s2i.readers.deepmimic import motion_dir
from s2i.sources import SOURCES, PrepareOptions
from s2i.sources.humanoid_motions import AZIMUTHS, CLIPS, TEST_AZIMUTHS, humanoid_recordings
from s2i.store import SkeletonStore
from s2i.store.prepare import prepare

pytestmark = pytest.mark.skipif(importlib.util.find_spec("pybullet_data") is None,
                                reason="pybullet_data not installed (pip install pybullet, or the demo extra)")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("hm") / "store"
    res = prepare("humanoid-motions", None, out, workers=1, progress=False)  # root: the installed pybullet_data
    return res, SkeletonStore(out)


def test_prepare_gives_the_declared_counts_and_disjoint_views(store):
    res, st = store
    official = SOURCES["humanoid-motions"].official
    assert res.sequences == official["sequences"] == 480 and not res.mismatches and not res.failed
    assert {s: {k: len(v) for k, v in p.items()} for s, p in st.splits.items()} == official["splits"] == {
        "xview": {"train": 360, "test": 120}}
    assert st.class_names == list(CLIPS) and len(CLIPS) == 15 and st.format == "humanoid3d"
    views = {sub: {st.meta[i]["view"] for i in ids} for sub, ids in st.splits["xview"].items()}
    assert views["test"] == set(TEST_AZIMUTHS) and not views["train"] & views["test"]
    labels = np.array([m["label"] for m in st.meta])
    for sub, ids in st.splits["xview"].items():
        assert set(labels[ids]) == set(range(15)), sub  # every class in both halves
    lengths = np.array([st[i].num_frames for i in range(len(st))])
    assert lengths.min() >= 30 and lengths.max() <= 120
    m = st.meta[0]
    assert {"clip", "view", "speed", "offset", "performance", "elevation"} <= set(m)
    assert m["source"] == "humanoid3d_backflip.txt"  # relative to the root: the hash does not depend on it


def test_camera_space_left_right(store):
    """At azimuth 0 the camera faces the actor: its right hip has the larger x (Kinect convention)."""
    _, st = store
    h = get_format("humanoid3d")
    i = [m["name"] for m in st.meta].index("walk_p1_a000")
    x = st[i].joints[0]
    assert (x[:, h.index("right_hip"), 0] - x[:, h.index("left_hip"), 0]).mean() > 0.1
    assert 2.0 < np.nanmean(x[..., 2]) < 6.0 and np.nanmax(np.abs(x[..., 1])) < 2.0


def test_deterministic_hash_and_kinect_v1_option(tmp_path, store):
    _, st = store
    hashes = []
    for run in ("a", "b"):
        prepare("humanoid-motions", motion_dir(), tmp_path / run, workers=1, progress=False, limit=2)
        hashes.append(SkeletonStore(tmp_path / run).manifest["content_hash"])
    assert hashes[0] == hashes[1]
    prepare("humanoid-motions", None, tmp_path / "k", workers=1, progress=False, limit=1,
            options=PrepareOptions(format="kinect_v1"))
    kin = SkeletonStore(tmp_path / "k")
    assert kin.format == "kinect_v1" and kin.num_joints == 20 and len(kin) == 4 * len(AZIMUTHS)
    # the same recordings: the joints both formats have are identical (noise included)
    h, k = get_format("humanoid3d"), get_format("kinect_v1")
    a, b = st[0].joints[0], kin[0].joints[0]
    assert st.meta[0]["name"] == kin.meta[0]["name"]
    np.testing.assert_array_equal(a[:, h.index("left_knee")], b[:, k.index("KneeLeft")])
    with pytest.raises(ValueError, match="humanoid3d or kinect_v1"):
        prepare("humanoid-motions", None, tmp_path / "bad", progress=False, options=PrepareOptions(format="ntu25"))
    with pytest.raises(ValueError, match="--root"):
        prepare("nw-ucla", None, tmp_path / "nw", progress=False)


def test_recordings_are_deterministic_per_clip():
    a = humanoid_recordings(motion_dir() / "humanoid3d_kick.txt")
    b = humanoid_recordings(motion_dir() / "humanoid3d_kick.txt")
    assert len(a) == 32 and all(np.array_equal(x.joints, y.joints) and x.meta == y.meta for x, y in zip(a, b))
    assert {m.meta["speed"] for m in a} == {0.8, 0.9, 1.1, 1.25}

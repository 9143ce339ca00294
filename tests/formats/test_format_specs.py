"""Checks on every built-in skeleton format spec (structure, naming, and real data where present).

Structural checks run everywhere. Data-backed checks read the shared research data in
``<repo>/../shared/data`` (never part of the product repository) and skip with a reason when it
is absent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from s2i.formats import PART_NAMES, SPEC_DIR, FormatSpec, get_format

from helpers import data_path  # noqa: E402

EXPECTED_JOINTS = {
    "ntu25": 25,
    "kinect_v1": 20,
    "utd_mhad": 20,
    "msr_action3d": 20,
    "coco17": 17,
    "openpose18": 18,
    "openpose25": 25,
    "h36m17": 17,
    "smpl24": 24,
    "mediapipe33": 33,
    "cmu31": 31,
    "humanoid3d": 16,
}
BUILTIN = sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))
LIMBS = ("left_arm", "right_arm", "left_leg", "right_leg")


def _data(*parts: str) -> Path:
    """A path in the real data, or skip the test naming the release and where it comes from."""
    return data_path(*parts)


# --- naming helpers ------------------------------------------------------------------------------
def side(name: str) -> str | None:
    """'L' / 'R' when a joint name says which side it is on (left_hip, HipLeft, LHip), else None."""
    is_l = re.search(r"left", name, re.IGNORECASE) or re.match(r"L[A-Z]", name)
    is_r = re.search(r"right", name, re.IGNORECASE) or re.match(r"R[A-Z]", name)
    if is_l and is_r:
        raise AssertionError(f"joint name {name!r} says both left and right")
    return "L" if is_l else "R" if is_r else None


def mirror(name: str) -> str:
    """The name with left and right swapped (case kept): ShoulderLeft <-> ShoulderRight, LHip <-> RHip."""

    def swap(m: re.Match[str]) -> str:
        s = m.group(0)
        out = "right" if s.lower() == "left" else "left"
        if s.isupper():
            return out.upper()
        return out.capitalize() if s[0].isupper() else out

    if re.search(r"left|right", name, re.IGNORECASE):
        return re.sub(r"left|right", swap, name, flags=re.IGNORECASE)
    if re.match(r"[LR][A-Z]", name):
        return {"L": "R", "R": "L"}[name[0]] + name[1:]
    return name


def parent_of(spec: FormatSpec, joint: str) -> str | None:
    return spec.parents[spec.index(joint)]


# --- structure ------------------------------------------------------------------------------------
def test_every_builtin_has_an_expected_joint_count() -> None:
    assert set(BUILTIN) == set(EXPECTED_JOINTS), "update EXPECTED_JOINTS when adding/removing a spec"


@pytest.mark.parametrize("name", BUILTIN)
def test_loads_with_expected_joint_count(name: str) -> None:
    spec = get_format(name)
    assert spec.name == name, "spec name must equal its file name"
    assert spec.num_joints == EXPECTED_JOINTS[name]
    assert spec.dims in (2, 3)
    assert spec.description and spec.units
    for alias in spec.aliases:
        assert get_format(alias) is spec


def test_aliases_are_unique() -> None:
    seen: dict[str, str] = {}
    for name in BUILTIN:
        for a in (name, *get_format(name).aliases):
            assert a.lower() not in seen, f"{a!r} used by {seen.get(a.lower())} and {name}"
            seen[a.lower()] = name


@pytest.mark.parametrize("name", BUILTIN)
def test_single_root_and_torso_starts_at_it(name: str) -> None:
    spec = get_format(name)
    roots = [j for j, p in zip(spec.joints, spec.parents) if p is None]
    assert len(roots) == 1, f"{name}: roots {roots}"
    assert spec.parts["torso"][0] == roots[0]
    assert len(spec.bones) == spec.num_joints - 1


@pytest.mark.parametrize("name", BUILTIN)
def test_left_right_pairs_are_mirrored_and_complete(name: str) -> None:
    spec = get_format(name)
    paired: list[str] = []
    for a, b in spec.left_right:
        assert side(a) == "L" and side(b) == "R", f"{name}: pair ({a}, {b}) is not (left, right)"
        assert mirror(a) == b, f"{name}: {a!r} mirrors to {mirror(a)!r}, not {b!r}"
        paired += [a, b]
    assert len(paired) == len(set(paired)), f"{name}: a joint is in two left/right pairs"
    sided = {j for j in spec.joints if side(j) is not None}
    assert sided == set(paired), f"{name}: sided joints not paired: {sorted(sided - set(paired))}"
    # flipping is an involution that swaps the two sides
    flip = spec.flip_indices
    assert np.array_equal(flip[flip], np.arange(spec.num_joints))


@pytest.mark.parametrize("name", BUILTIN)
def test_hips_and_shoulders(name: str) -> None:
    spec = get_format(name)
    assert spec.hips is not None and spec.shoulders is not None
    for pair, kind in ((spec.hips, "hip"), (spec.shoulders, "shoulder")):
        left, right = pair
        assert side(left) == "L" and side(right) == "R", f"{name}: {kind}s {pair}"
        assert mirror(left) == right
    assert spec.hips[0] in spec.parts["left_leg"] and spec.hips[1] in spec.parts["right_leg"]
    assert spec.shoulders[0] in spec.parts["left_arm"]
    assert spec.shoulders[1] in spec.parts["right_arm"]


@pytest.mark.parametrize("name", BUILTIN)
def test_parts_are_proximal_to_distal_chains(name: str) -> None:
    spec = get_format(name)
    assert set(spec.parts) == set(PART_NAMES)
    assert sorted(j for p in PART_NAMES for j in spec.parts[p]) == sorted(spec.joints)
    for part in PART_NAMES:
        members = spec.parts[part]
        first_parent = parent_of(spec, members[0])
        assert first_parent not in members, f"{name}.{part}: starts below another of its joints"
        for i, j in enumerate(members[1:], start=1):
            assert parent_of(spec, j) in members[:i], (
                f"{name}.{part}: {j!r} comes before its parent {parent_of(spec, j)!r}"
            )


@pytest.mark.parametrize("name", BUILTIN)
def test_limbs_start_at_shoulder_or_hip_and_are_sided(name: str) -> None:
    spec = get_format(name)
    for i, (arm, leg) in enumerate((("left_arm", "left_leg"), ("right_arm", "right_leg"))):
        shoulder, hip = spec.shoulders[i], spec.hips[i]
        arm0, leg0 = spec.parts[arm][0], spec.parts[leg][0]
        # the arm starts at the shoulder, or at the clavicle/collar just above it
        assert arm0 in (shoulder, parent_of(spec, shoulder)), f"{name}.{arm} starts at {arm0}"
        assert re.search(r"shoulder|clavicle|collar", arm0, re.IGNORECASE), arm0
        # the leg starts at the hip (CMU: the LHipJoint bone just above the femur head)
        assert leg0 in (hip, parent_of(spec, hip)), f"{name}.{leg} starts at {leg0}"
        assert re.search(r"hip", leg0, re.IGNORECASE), leg0
    for part in LIMBS:
        want = "L" if part.startswith("left") else "R"
        wrong = [j for j in spec.parts[part] if side(j) != want]
        assert not wrong, f"{name}.{part}: joints {wrong} are not on the {part.split('_')[0]} side"
    # the left and right limbs mirror each other joint for joint
    for left, right in (("left_arm", "right_arm"), ("left_leg", "right_leg")):
        assert [mirror(j) for j in spec.parts[left]] == list(spec.parts[right])


def test_kinect_v1_family_shares_names_and_tree() -> None:
    ref = get_format("kinect_v1")
    tree = dict(zip(ref.joints, ref.parents))
    for name in ("utd_mhad", "msr_action3d"):
        spec = get_format(name)
        assert set(spec.joints) == set(ref.joints)
        assert dict(zip(spec.joints, spec.parents)) == tree, name
        assert spec.parts == ref.parts and set(spec.left_right) == set(ref.left_right)
        assert spec.subset(ref) == {j: j for j in spec.joints}


# --- data loaders --------------------------------------------------------------------------------
def load_nw_ucla(stem: str) -> np.ndarray:
    data = json.loads(_data("nw_ucla", "all_sqe", f"{stem}.json").read_text())
    x = np.asarray(data["skeletons"], dtype=np.float64)
    assert x.ndim == 3 and x.shape[1:] == (20, 3)
    return x


def load_utd_mhad(stem: str) -> np.ndarray:
    sio = pytest.importorskip("scipy.io")
    d = sio.loadmat(str(_data("utd_mhad", "Skeleton", f"{stem}_skeleton.mat")))["d_skel"]
    assert d.shape[:2] == (20, 3)
    return np.transpose(d, (2, 0, 1)).astype(np.float64)  # (20, 3, T) -> (T, 20, 3)


def load_msr(stem: str) -> np.ndarray:
    rows = np.loadtxt(_data("msr_action3d", "MSRAction3DSkeletonReal3D", f"{stem}_skeleton3D.txt"))
    assert rows.shape[1] == 4 and rows.shape[0] % 20 == 0
    return rows.reshape(-1, 20, 4)[..., :3]


def load_ntu_first_body(stem: str) -> np.ndarray:
    """Minimal NTU .skeleton parser: x y z of the first body in each frame (T, 25, 3)."""
    lines = _data("ntu_samples", f"{stem}.skeleton").read_text().split()
    # token stream: F, then per frame B, per body 10 values, 25, then 25 x 12 values
    pos, frames = 1, []
    n_frames = int(lines[0])
    for _ in range(n_frames):
        n_bodies = int(lines[pos])
        pos += 1
        body0 = None
        for b in range(n_bodies):
            pos += 10
            n_joints = int(lines[pos])
            pos += 1
            vals = np.asarray(lines[pos:pos + 12 * n_joints], dtype=np.float64).reshape(n_joints, 12)
            pos += 12 * n_joints
            if b == 0:
                body0 = vals[:, :3]
        if body0 is not None:
            frames.append(body0)
    assert pos == len(lines), "NTU parse did not consume the whole file"
    return np.stack(frames)


def bone_length_cv(spec: FormatSpec, x: np.ndarray) -> np.ndarray:
    """Per-bone std/mean of the length over time."""
    child = np.array([c for c, _ in spec.bones])
    par = np.array([p for _, p in spec.bones])
    lengths = np.linalg.norm(x[:, child] - x[:, par], axis=-1)  # (T, bones)
    return lengths.std(0) / lengths.mean(0)


def mean_y(spec: FormatSpec, x: np.ndarray, joint: str) -> float:
    return float(x[:, spec.index(joint), 1].mean())


def check_head_up_feet_down(spec: FormatSpec, ys: dict[str, float], what: str) -> None:
    """y is up: the head is the highest joint, a foot the lowest, each foot below its own ankle
    and below every joint outside the legs. (The two feet need not be the two lowest joints: with
    a tilted camera or a bent knee one ankle can be lower than the other foot.)"""
    assert max(ys, key=ys.get) == "Head", f"{what}: highest joint is {max(ys, key=ys.get)}"
    assert min(ys, key=ys.get) in ("FootLeft", "FootRight"), f"{what}: lowest is {min(ys, key=ys.get)}"
    not_legs = [j for p in ("torso", "left_arm", "right_arm") for j in spec.parts[p]]
    for s in ("Left", "Right"):
        foot = ys[f"Foot{s}"]
        assert foot < ys[f"Ankle{s}"] < ys[f"Knee{s}"] < ys[f"Hip{s}"], f"{what}: {s} leg order in y"
        assert foot < min(ys[j] for j in not_legs), f"{what}: Foot{s} is not below the upper body"


# Kinect-v1 family samples: (format, loader, file stems). NW-UCLA view 1 is the most frontal view.
KINECT_V1_SAMPLES = [
    ("kinect_v1", load_nw_ucla, ["a01_s01_e00_v01", "a04_s02_e00_v01", "a12_s10_e00_v01"]),
    ("utd_mhad", load_utd_mhad, ["a10_s1_t1", "a1_s2_t1", "a27_s8_t1"]),
    ("msr_action3d", load_msr, ["a01_s01_e01", "a10_s05_e02", "a20_s10_e01"]),
]


@pytest.mark.parametrize("name,loader,stems", KINECT_V1_SAMPLES, ids=[s[0] for s in KINECT_V1_SAMPLES])
def test_kinect_v1_family_on_data(name, loader, stems) -> None:
    spec = get_format(name)
    for stem in stems:
        x = loader(stem)
        assert x.shape[1] == spec.num_joints
        ys = {j: mean_y(spec, x, j) for j in spec.joints}
        check_head_up_feet_down(spec, ys, f"{name}/{stem}")
        # bones stay the same length over time
        cv = bone_length_cv(spec, x)
        assert np.median(cv) < 0.25, f"{name}/{stem}: median bone-length CV {np.median(cv):.3f}"
        # subject's left has the smaller x (Kinect camera space, subject facing the sensor)
        for a, b in [("ShoulderLeft", "ShoulderRight"), ("HipLeft", "HipRight")]:
            xa, xb = x[:, spec.index(a), 0], x[:, spec.index(b), 0]
            assert xa.mean() < xb.mean(), f"{name}/{stem}: {a} is not left of {b} in x"
            assert (xa < xb).mean() > 0.9


def handedness(spec: FormatSpec, x: np.ndarray, pelvis: str) -> float:
    """Median over frames of left . (up x forward); > 0 when "Left" is the subject's left.

    Forward is where the feet point (foot - ankle); in a right-handed frame with y up the
    subject's left is up x forward (Kinect v1 and v2 camera spaces are right-handed). This checks
    the labels without assuming a frontal view.
    """
    i = spec.index
    left = x[:, i("ShoulderLeft")] - x[:, i("ShoulderRight")]
    up = x[:, i("Head")] - x[:, i(pelvis)]
    fwd = (x[:, i("FootLeft")] - x[:, i("AnkleLeft")]) + (x[:, i("FootRight")] - x[:, i("AnkleRight")])
    return float(np.median(np.einsum("ti,ti->t", left, np.cross(up, fwd))))


@pytest.mark.parametrize("name,loader,stems", KINECT_V1_SAMPLES, ids=[s[0] for s in KINECT_V1_SAMPLES])
def test_kinect_v1_family_left_right_is_the_subjects(name, loader, stems) -> None:
    spec = get_format(name)
    for stem in stems:
        assert handedness(spec, loader(stem), "HipCenter") > 0, f"{name}/{stem}: left/right look swapped"


def test_ntu25_on_data() -> None:
    spec = get_format("ntu25")
    x = load_ntu_first_body("S001C001P001R001A011")
    assert x.shape[1:] == (25, 3)
    ys = {j: mean_y(spec, x, j) for j in spec.joints}
    check_head_up_feet_down(spec, ys, "ntu25/S001C001P001R001A011")
    cv = bone_length_cv(spec, x)
    assert np.median(cv) < 0.25, f"median bone-length CV {np.median(cv):.3f}"
    assert handedness(spec, x, "SpineBase") > 0, "left/right look swapped"


def test_openpose18_on_kinetics_data() -> None:
    """Image y points down: the face is above (smaller y than) the ankles for confident people."""
    spec = get_format("openpose18")
    folder = _data("kinetics_skeleton_sample", "kinetics-skeleton", "kinetics_val_old")
    pose, score = [], []
    for f in sorted(folder.glob("*.json")):
        for frame in json.loads(f.read_text())["data"]:
            for person in frame["skeleton"]:
                pose.append(np.asarray(person["pose"], dtype=np.float64).reshape(18, 2))
                score.append(np.asarray(person["score"], dtype=np.float64))
    p, s = np.stack(pose), np.stack(score)
    assert p.shape[1] == spec.num_joints
    i = spec.index
    ok = (s[:, [i("Nose"), i("Neck"), i("LAnkle"), i("RAnkle")]] > 0.3).all(1)
    assert ok.sum() > 100
    head_y = p[ok][:, [i("Nose"), i("Neck")]][..., 1].mean(1)
    ankle_y = p[ok][:, [i("LAnkle"), i("RAnkle")]][..., 1].mean(1)
    assert (head_y < ankle_y).mean() > 0.9
    assert (p[ok][:, i("Nose"), 1] < p[ok][:, i("Neck"), 1]).mean() > 0.8


# --- CMU: the spec matches the BVH hierarchy and the ASF bones --------------------------------------
def parse_bvh_hierarchy(path: Path) -> tuple[list[str], dict[str, str | None], dict[str, np.ndarray]]:
    names: list[str] = []
    parents: dict[str, str | None] = {}
    offsets: dict[str, np.ndarray] = {}
    stack: list[str | None] = []
    pending: str | None = None
    current: str | None = None
    for line in path.read_text().splitlines():
        tok = line.split()
        if not tok:
            continue
        if tok[0] == "MOTION":
            break
        if tok[0] in ("ROOT", "JOINT"):
            pending = tok[1]
        elif tok[0] == "End":
            pending = "<end>"
        elif tok[0] == "{":
            parent = stack[-1] if stack else None
            if pending != "<end>":
                names.append(pending)
                parents[pending] = parent
            stack.append(pending if pending != "<end>" else parent)
            current = pending
        elif tok[0] == "}":
            stack.pop()
        elif tok[0] == "OFFSET" and current not in (None, "<end>"):
            offsets[current] = np.asarray(tok[1:4], dtype=np.float64)
    return names, parents, offsets


def parse_asf(path: Path) -> tuple[list[str], dict[str, str], dict[str, np.ndarray]]:
    """Bone names in :bonedata order, parent of each bone from :hierarchy, and each bone's vector."""
    text = path.read_text()
    bonedata = text.split(":bonedata", 1)[1].split(":hierarchy", 1)[0]
    names, vecs = [], {}
    for block in bonedata.split("begin")[1:]:
        fields = {ln.split()[0]: ln.split()[1:] for ln in block.splitlines() if ln.split()}
        n = fields["name"][0]
        names.append(n)
        vecs[n] = np.asarray(fields["direction"], dtype=np.float64) * float(fields["length"][0])
    hier = text.split(":hierarchy", 1)[1].split("begin", 1)[1].split("end", 1)[0]
    parents: dict[str, str] = {}
    for ln in hier.splitlines():
        tok = ln.split()
        for child in tok[1:]:
            parents[child] = tok[0]
    return names, parents, vecs


def test_cmu31_matches_bvh_hierarchy() -> None:
    spec = get_format("cmu31")
    names, parents, _ = parse_bvh_hierarchy(_data("mocap_samples", "01_01.bvh"))
    assert names == list(spec.joints)
    assert [parents[j] for j in names] == list(spec.parents)


def test_cmu31_asf_names_match_asf_bones_one_to_one() -> None:
    spec = get_format("cmu31")
    asf = spec.extra["asf_names"]
    assert list(asf) == list(spec.joints), "asf_names must list the joints in spec order"
    bones, asf_parents, vecs = parse_asf(_data("mocap_samples", "01.asf"))
    assert list(asf.values()) == ["root", *bones], "BVH joint order = root + ASF bone order"
    for j, p in zip(spec.joints, spec.parents):
        if p is not None:
            assert asf_parents[asf[j]] == asf[p], f"{j}: ASF parent differs"
    # A BVH joint sits at the proximal end of its ASF bone: its OFFSET is the parent bone's vector.
    # The cgspeed conversion zeroes the thorax and wrist bones (and the root has no length).
    _, _, offsets = parse_bvh_hierarchy(_data("mocap_samples", "01_01.bvh"))
    zeroed = {"root", "thorax", "lwrist", "rwrist"}
    for j, p in zip(spec.joints, spec.parents):
        if p is None:
            continue
        want = np.zeros(3) if asf[p] in zeroed else vecs[asf[p]]
        assert np.allclose(offsets[j], want, atol=2e-3), f"{j}: offset {offsets[j]} vs {want}"

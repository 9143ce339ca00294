"""DeepMimic humanoid motion clips (the ``humanoid3d_*.txt`` files of ``pybullet_data``) -> joint positions.

A motion file is JSON: ``{"Loop": "wrap" | "none", "Frames": [[...44 numbers...], ...]}``. Each frame is
(the layout of pybullet_envs/deep_mimic/env/humanoid_pose_interpolator.py, ``Slerp``):

====== ===================================================================
index  value
====== ===================================================================
0      duration of this keyframe (seconds to the next one)
1-3    root (base link) position x, y, z in metres, y up
4-7    root orientation quaternion w, x, y, z
8-11   chest, 12-15 neck, 16-19 right hip (quaternions w, x, y, z)
20     right knee angle (radians, about the URDF joint axis)
21-24  right ankle, 25-28 right shoulder (quaternions)
29     right elbow angle
30-33  left hip (quaternion), 34 left knee angle, 35-38 left ankle, 39-42 left shoulder (quaternions)
43     left elbow angle
====== ===================================================================

The skeleton is ``pybullet_data/humanoid/humanoid.urdf`` (parsed here with ``xml.etree``): a link tree
whose joint origins are the bone offsets, spherical joints driven by the quaternions, revolute knees and
elbows driven by the angles about their URDF ``axis``, fixed wrists. pybullet_envs loads it with
``globalScaling=0.25`` (humanoid_stable_pd.py), so URDF lengths are multiplied by :data:`URDF_SCALE`;
the root positions in the motion files are already in metres. World frame: y up; in the rest pose
(identity rotations) the humanoid faces +x and its right side is +z (the right hip's origin has z > 0).
Quaternions are normalised before use (some clips store norms of 0.6-1.1); a zero quaternion is an error.

Two output formats of the same motion: ``humanoid3d`` (the URDF joints plus the head) and ``kinect_v1``
(NW-UCLA's 20 Kinect v1 joints: the humanoid's joints directly, and Spine = chest joint,
ShoulderCenter = neck joint, Head = centre of the neck link's collision sphere, Hand = the wrist link's
sphere continued along the forearm by its radius, Foot = centre of the ankle link's collision box).
Positions are in the file's world frame; :mod:`s2i.sources.humanoid_motions` places virtual cameras.
"""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..formats import FormatSpec, FormatSpecError, get_format
from ..skeleton import SkeletonSequence
from .base import ReaderError, read_bytes, read_text, register_reader
from .kinematics import axis_angle_matrix, euler_matrix, forward_kinematics, quaternion_matrix

__all__ = ["DEEPMIMIC_LAYOUT", "FRAME_LENGTH", "URDF_SCALE", "DeepMimicMotion", "UrdfJoint", "UrdfRobot",
           "deepmimic_positions", "humanoid_urdf", "motion_dir", "parse_deepmimic", "parse_urdf",
           "pybullet_data_dir", "read_deepmimic_motion"]

#: pybullet_envs loads humanoid.urdf with globalScaling=0.25 (deep_mimic/env/humanoid_stable_pd.py)
URDF_SCALE = 0.25
#: URDF joint driven by each frame slice: (name, first column, number of values: 4 = quaternion, 1 = angle)
DEEPMIMIC_LAYOUT: tuple[tuple[str, int, int], ...] = (
    ("chest", 8, 4), ("neck", 12, 4), ("right_hip", 16, 4), ("right_knee", 20, 1), ("right_ankle", 21, 4),
    ("right_shoulder", 25, 4), ("right_elbow", 29, 1), ("left_hip", 30, 4), ("left_knee", 34, 1),
    ("left_ankle", 35, 4), ("left_shoulder", 39, 4), ("left_elbow", 43, 1))
FRAME_LENGTH = 44
MAX_BYTES = 64 * 2**20

# output points: (kind, link). "origin": the link frame's origin (= its joint); "centre": the origin of the
# link's collision geometry; "tip": the collision sphere continued along the link's bone by its radius
_HUMANOID3D_POINTS: dict[str, tuple[str, str]] = {
    "root": ("origin", "root"), "chest": ("origin", "chest"), "neck": ("origin", "neck"), "head": ("centre", "neck"),
    **{f"{side}_{j}": ("origin", f"{side}_{j}") for side in ("right", "left")
       for j in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")},
}
_KINECT_POINTS: dict[str, tuple[str, str]] = {
    "HipCenter": ("origin", "root"), "Spine": ("origin", "chest"), "ShoulderCenter": ("origin", "neck"),
    "Head": ("centre", "neck"),
    **{f"{kin}{side.title()}": ("origin", f"{side}_{j}") for side in ("left", "right")
       for kin, j in (("Shoulder", "shoulder"), ("Elbow", "elbow"), ("Wrist", "wrist"), ("Hip", "hip"),
                      ("Knee", "knee"), ("Ankle", "ankle"))},
    **{f"Hand{side.title()}": ("tip", f"{side}_wrist") for side in ("left", "right")},
    **{f"Foot{side.title()}": ("centre", f"{side}_ankle") for side in ("left", "right")},
}
POINTS: dict[str, dict[str, tuple[str, str]]] = {"humanoid3d": _HUMANOID3D_POINTS, "kinect_v1": _KINECT_POINTS}


# --- where the data lives ------------------------------------------------------------------------------
def pybullet_data_dir() -> Path:
    """The installed ``pybullet_data`` folder (found without importing pybullet); FileNotFoundError when
    the package is not installed."""
    spec = importlib.util.find_spec("pybullet_data")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the DeepMimic humanoid motions ship with the pybullet wheel, which is not installed:"
                                " pip install pybullet  (or pip install -e \".[demo]\")")
    return Path(next(iter(spec.submodule_search_locations)))


def motion_dir() -> Path:
    """``pybullet_data/data/motions``: the folder of the ``humanoid3d_*.txt`` clips."""
    return pybullet_data_dir() / "data" / "motions"


def humanoid_urdf() -> Path:
    """``pybullet_data/humanoid/humanoid.urdf``: the skeleton of the motion clips."""
    return pybullet_data_dir() / "humanoid" / "humanoid.urdf"


# --- URDF --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UrdfJoint:
    """One URDF joint: its child link's frame relative to the parent link (origin xyz/rpy), type, axis."""

    name: str
    type: str
    parent: str
    child: str
    xyz: np.ndarray
    rpy: np.ndarray
    axis: np.ndarray


@dataclass(frozen=True)
class UrdfRobot:
    """A URDF link tree: the root link, joints with parents before children, per-link collision geometry
    ({"xyz": origin, "rpy": origin, "type": "sphere"|"box"|"capsule"|..., "size"/"radius"/"length"})."""

    path: str
    root: str
    joints: tuple[UrdfJoint, ...]
    geometry: dict[str, dict[str, Any]] = field(default_factory=dict)

    def joint_to(self, link: str) -> UrdfJoint:
        return next(j for j in self.joints if j.child == link)


def _floats(p: Path, el: ET.Element | None, attr: str, default: str, n: int = 3) -> np.ndarray:
    raw = default if el is None else el.get(attr, default)
    where = f"URDF <{el.tag if el is not None else '?'} {attr}={raw[:60]!r}>"
    try:
        v = np.array([float(x) for x in raw.split()], dtype=np.float64)
    except ValueError:
        raise ReaderError(p, f"{where}: expected {n} numbers") from None
    if v.shape != (n,) or not np.isfinite(v).all():
        raise ReaderError(p, f"{where}: expected {n} finite numbers")
    return v


def _xml_root(p: Path) -> ET.Element:
    """The ``<robot>`` element of a URDF file."""
    # pybullet_data's humanoid.urdf ends with a NUL byte: trailing NULs are padding, any other is an error
    raw = read_bytes(p, 16 * 2**20, "URDF file").rstrip(b"\x00")
    try:
        root_el = ET.fromstring(raw)
    except ET.ParseError as e:
        raise ReaderError(p, f"not a valid URDF (XML error: {e})", e.position[0]) from None
    if root_el.tag != "robot":
        raise ReaderError(p, f"not a URDF: the root element is <{root_el.tag}>, expected <robot>")
    return root_el


def _collision(p: Path, link: ET.Element) -> dict[str, Any] | None:
    """A link's first collision shape: origin xyz/rpy, type and its radius/length/size, or None."""
    col = link.find("collision")
    geo = col.find("geometry") if col is not None else None
    shape = next(iter(geo), None) if geo is not None else None
    if col is None or shape is None:
        return None
    origin = col.find("origin")
    g: dict[str, Any] = {"xyz": _floats(p, origin, "xyz", "0 0 0"), "rpy": _floats(p, origin, "rpy", "0 0 0"),
                         "type": shape.tag}
    for key in ("radius", "length"):
        if shape.get(key) is not None:
            g[key] = float(shape.get(key, "0"))
    if shape.get("size") is not None:
        g["size"] = _floats(p, shape, "size", "0 0 0")
    return g


def _joint(p: Path, el: ET.Element) -> UrdfJoint:
    """One ``<joint>`` element, its parent and child links required."""
    parent, child = el.find("parent"), el.find("child")
    if parent is None or child is None or not parent.get("link") or not child.get("link"):
        raise ReaderError(p, f"URDF joint {el.get('name')!r} lacks <parent link=...> or <child link=...>")
    return UrdfJoint(el.get("name", ""), el.get("type", ""), parent.get("link", ""), child.get("link", ""),
                     _floats(p, el.find("origin"), "xyz", "0 0 0"), _floats(p, el.find("origin"), "rpy", "0 0 0"),
                     _floats(p, el.find("axis"), "xyz", "1 0 0"))


def _tree_order(p: Path, links: list[str], by_child: dict[str, UrdfJoint]) -> tuple[str, list[UrdfJoint]]:
    """(root link, joints breadth-first from it in file order: parents before children)."""
    roots = [name for name in links if name not in by_child]
    if len(roots) != 1:
        raise ReaderError(p, f"URDF must have one root link, found {len(roots)}: {', '.join(roots[:5])}")
    ordered: list[UrdfJoint] = []
    frontier = [roots[0]]
    while frontier:
        link = frontier.pop(0)
        kids = [j for j in by_child.values() if j.parent == link]
        ordered.extend(kids)
        frontier.extend(j.child for j in kids)
    if len(ordered) != len(by_child):
        raise ReaderError(p, "URDF joints do not form one tree under the root link")
    return roots[0], ordered


def parse_urdf(path: str | Path) -> UrdfRobot:
    """Parse a URDF's link tree (joints, origins, axes) and each link's first collision geometry."""
    p = Path(path)
    root_el = _xml_root(p)
    links = [el.get("name", "") for el in root_el.findall("link")]
    geometry: dict[str, dict[str, Any]] = {}
    for el in root_el.findall("link"):
        g = _collision(p, el)
        if g is not None:
            geometry[el.get("name", "")] = g
    by_child = {j.child: j for j in (_joint(p, el) for el in root_el.findall("joint"))}
    root, ordered = _tree_order(p, links, by_child)
    return UrdfRobot(str(p), root, tuple(ordered), geometry)


# --- motion ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeepMimicMotion:
    """A parsed motion: the (T, 44) frames and whether the clip loops ("wrap")."""

    path: str
    frames: np.ndarray
    loop: bool

    @property
    def times(self) -> np.ndarray:
        """Time of each keyframe in seconds (the durations summed; the last frame's duration is unused)."""
        return np.concatenate([[0.0], np.cumsum(self.frames[:-1, 0])])

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    def sample(self, times: np.ndarray) -> DeepMimicMotion:
        """Frames at ``times`` (seconds): positions and angles interpolated linearly, quaternions by
        normalised linear interpolation on the same hemisphere. Looping clips wrap around, the root moving
        on by the horizontal displacement of each whole cycle (as pybullet_envs' computeCycleOffset);
        other clips hold their first / last frame outside the clip."""
        t = np.asarray(times, dtype=np.float64)
        kt, f = self.times, self.frames
        dur = kt[-1]
        cycles = np.zeros_like(t)
        if self.loop and dur > 0:
            cycles = np.floor(t / dur)
            t = t - cycles * dur
        t = np.clip(t, 0.0, dur)
        i = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, max(len(kt) - 2, 0))
        j = np.minimum(i + 1, len(kt) - 1)
        span = kt[j] - kt[i]
        w = np.divide(t - kt[i], span, out=np.zeros_like(t), where=span > 0)[:, None]
        a, b = f[i], f[j]
        out = a + w * (b - a)
        for col in [4] + [c for _, c, n in DEEPMIMIC_LAYOUT if n == 4]:
            qa, qb = a[:, col:col + 4], b[:, col:col + 4]
            sign = np.where((qa * qb).sum(axis=1, keepdims=True) < 0, -1.0, 1.0)
            q = qa + w * (sign * qb - qa)
            out[:, col:col + 4] = q / np.linalg.norm(q, axis=1, keepdims=True)
        if self.loop:
            shift = f[-1, 1:4] - f[0, 1:4]
            shift[1] = 0.0
            out[:, 1:4] += cycles[:, None] * shift
        out[:, 0] = np.append(np.diff(np.asarray(times, dtype=np.float64)), 0.0) if len(t) > 1 else 0.0
        return replace(self, frames=out)


def _frame_line(text: str, k: int) -> int | None:
    """1-based line of frame ``k`` when the file writes one frame per line (the pybullet_data layout)."""
    at = text.find('"Frames"')
    if at < 0:
        return None
    lines = text[at:].split("\n")
    first = next((n for n, ln in enumerate(lines) if ln.lstrip().startswith("[") and ln.rstrip().rstrip(",")
                  .endswith("]")), None)
    if first is None:
        return None
    return text.count("\n", 0, at) + first + k + 1


def parse_deepmimic(path: str | Path) -> DeepMimicMotion:
    """Parse a DeepMimic humanoid motion file; errors name the file and the frame (and its line)."""
    p = Path(path)
    text = read_text(p, MAX_BYTES, "DeepMimic motion file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ReaderError(p, f"not a DeepMimic motion file (invalid JSON: {e.msg}, column {e.colno})",
                          e.lineno) from None
    except RecursionError:
        raise ReaderError(p, "not a DeepMimic motion file (JSON nested too deeply)") from None
    if not isinstance(data, dict) or not isinstance(data.get("Frames"), list):
        raise ReaderError(p, 'not a DeepMimic motion file: expected a JSON object with a "Frames" list')
    frames = data["Frames"]
    if not frames:
        raise ReaderError(p, '"Frames" is empty: a motion needs at least one frame')
    loop = data.get("Loop", "wrap")
    if loop not in ("wrap", "none"):
        raise ReaderError(p, f'"Loop" must be "wrap" or "none", got {str(loop)[:40]!r}')
    for k, fr in enumerate(frames):
        if not isinstance(fr, list) or len(fr) != FRAME_LENGTH:
            got = f"{len(fr)} values" if isinstance(fr, list) else type(fr).__name__
            raise ReaderError(p, f"frame {k}: expected {FRAME_LENGTH} numbers (duration, root position 3, root"
                              f" quaternion 4, 8 joint quaternions, 4 knee/elbow angles), got {got}",
                              _frame_line(text, k))
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in fr):
            raise ReaderError(p, f"frame {k}: values must be numbers", _frame_line(text, k))
    arr = np.array(frames, dtype=np.float64)
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ReaderError(p, f"frame {k}: non-finite value (NaN or infinity)", _frame_line(text, k))
    neg = arr[:, 0] < 0
    if neg.any():
        k = int(np.flatnonzero(neg)[0])
        raise ReaderError(p, f"frame {k}: negative keyframe duration {arr[k, 0]}", _frame_line(text, k))
    for name, col in [("root", 4)] + [(n, c) for n, c, size in DEEPMIMIC_LAYOUT if size == 4]:
        zero = np.linalg.norm(arr[:, col:col + 4], axis=1) < 1e-8
        if zero.any():
            k = int(np.flatnonzero(zero)[0])
            raise ReaderError(p, f"frame {k}: {name} quaternion is zero (columns {col}-{col + 3})",
                              _frame_line(text, k))
    return DeepMimicMotion(str(p), arr, loop == "wrap")


# --- forward kinematics ------------------------------------------------------------------------------
def _points(robot: UrdfRobot, names: Sequence[str], table: dict[str, tuple[str, str]]) -> tuple[
        list[str], list[int], np.ndarray]:
    """Extra FK nodes for the output points that are not link origins: (link, offset in the link frame)."""
    links = [robot.root] + [j.child for j in robot.joints]
    extra_parent, extra_off = [], []
    for name in names:
        kind, link = table[name]
        if kind == "origin":
            continue
        g = robot.geometry.get(link)
        if g is None:
            raise ReaderError(robot.path, f"link {link!r} has no collision geometry, needed for point {name!r}")
        off = np.array(g["xyz"], dtype=np.float64)
        if kind == "tip":  # the sphere's far side along the bone from the parent joint to this link
            j = robot.joint_to(link)
            bone = euler_matrix(j.rpy[::-1], "zyx").T @ j.xyz
            off = off + g.get("radius", 0.0) * bone / np.linalg.norm(bone)
        extra_parent.append(links.index(link))
        extra_off.append(off)
    return links, extra_parent, np.array(extra_off).reshape(-1, 3)


def deepmimic_positions(motion: DeepMimicMotion, robot: UrdfRobot, names: Sequence[str],
                        table: dict[str, tuple[str, str]], scale: float = URDF_SCALE) -> np.ndarray:
    """(T, len(names), 3) world positions of the named points (see :data:`POINTS`) in metres."""
    f = motion.frames
    t = f.shape[0]
    links, extra_parent, extra_off = _points(robot, names, table)
    n = len(links) + len(extra_parent)
    parents = [-1] + [links.index(j.parent) for j in robot.joints] + extra_parent
    offsets = np.zeros((t, n, 3))
    offsets[:, 0] = f[:, 1:4]
    offsets[:, 1:len(links)] = scale * np.stack([j.xyz for j in robot.joints])
    offsets[:, len(links):] = scale * extra_off
    local = np.broadcast_to(np.eye(3), (t, n, 3, 3)).copy()
    local[:, 0] = quaternion_matrix(f[:, 4:8])
    driven = {name: (col, size) for name, col, size in DEEPMIMIC_LAYOUT}
    for k, j in enumerate(robot.joints, start=1):
        fixed = euler_matrix(j.rpy[::-1], "zyx")  # URDF rpy: R = Rz(yaw) Ry(pitch) Rx(roll)
        if j.name in driven and j.type != "fixed":
            col, size = driven[j.name]
            rot = quaternion_matrix(f[:, col:col + 4]) if size == 4 else axis_angle_matrix(j.axis, f[:, col])
            local[:, k] = fixed @ rot
        else:
            local[:, k] = fixed
    pos = forward_kinematics(parents, offsets, local)
    index = {}
    extra = iter(range(len(links), n))
    for name in names:
        kind, link = table[name]
        index[name] = links.index(link) if kind == "origin" else next(extra)
    return pos[:, [index[name] for name in names]]


def _resolve_format(p: Path, format: str | FormatSpec) -> tuple[FormatSpec, dict[str, tuple[str, str]]]:
    try:
        spec = format if isinstance(format, FormatSpec) else get_format(format)
    except FormatSpecError as e:
        raise ReaderError(p, f"cannot use format {format!r}: {e}") from None
    if spec.name not in POINTS:
        raise ReaderError(p, f"format {spec.name!r}: DeepMimic motions are read as {' or '.join(POINTS)}")
    return spec, POINTS[spec.name]


def _check_robot(p: Path, robot: UrdfRobot) -> None:
    joints = {j.name: j for j in robot.joints}
    for name, _, size in DEEPMIMIC_LAYOUT:
        j = joints.get(name)
        want = "spherical" if size == 4 else "revolute"
        if j is None or j.type != want:
            got = "missing" if j is None else f"of type {j.type!r}"
            raise ReaderError(p, f"URDF {robot.path}: joint {name!r} is {got}; the DeepMimic humanoid has a {want}"
                              " joint there")


def _is_deepmimic(path: Path) -> bool:
    """A ``.txt`` / ``.json`` file whose JSON object has a "Frames" key near its start (DeepMimic layout)."""
    if path.suffix.lower() not in (".txt", ".json"):
        return False
    try:  # non-blocking and regular files only: a FIFO named *.txt must not hang the detection
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = os.read(fd, 4096)
    except OSError:
        return False
    finally:
        os.close(fd)
    return head.lstrip().startswith(b"{") and b'"Frames"' in head


@register_reader("deepmimic", _is_deepmimic)
def read_deepmimic_motion(path: str | Path, format: str | FormatSpec = "humanoid3d",
                          urdf: str | Path | None = None) -> SkeletonSequence:
    """Read a DeepMimic humanoid motion -> (1, T, V, 3) float32 positions in metres (file world frame, y up).

    format: ``humanoid3d`` (16 joints) or ``kinect_v1`` (20 Kinect v1 joints from the same motion).
    urdf: the humanoid's URDF (default: pybullet_data/humanoid/humanoid.urdf of the installed pybullet).
    fps is 1 / keyframe duration (the median when the durations vary; the keyframe times are in meta).
    The label name is the clip name (``humanoid3d_walk.txt`` -> ``walk``); no label number is set.
    """
    p = Path(path)
    spec, table = _resolve_format(p, format)
    motion = parse_deepmimic(p)
    robot = parse_urdf(urdf if urdf is not None else humanoid_urdf())
    _check_robot(p, robot)
    pos = deepmimic_positions(motion, robot, spec.joints, table)
    durations = motion.frames[:-1, 0] if len(motion.frames) > 1 else motion.frames[:, 0]
    med = float(np.median(durations)) if durations.size else 0.0
    fps = 1.0 / med if med > 0 else None
    if fps is not None and abs(fps - round(fps)) < 1e-3 * fps:
        fps = float(round(fps))  # 0.033332 s -> 30 fps
    clip = p.stem[len("humanoid3d_"):] if p.stem.startswith("humanoid3d_") else p.stem
    meta: dict[str, Any] = {"source": str(p), "units": "m", "clip": clip, "label_name": clip,
                            "loop": "wrap" if motion.loop else "none", "urdf": robot.path,
                            "urdf_scale": URDF_SCALE}
    if durations.size and not np.allclose(durations, durations[0]):
        meta["frame_times"] = [round(float(x), 6) for x in motion.times]
    return SkeletonSequence(pos.astype(np.float32)[None], format=spec.name, fps=fps, meta=meta)

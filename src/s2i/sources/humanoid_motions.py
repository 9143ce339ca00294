"""``humanoid-motions``: the 15 DeepMimic humanoid clips that ship inside the pybullet wheel, as a small
labelled multi-view data set that needs no download (``s2i prepare humanoid-motions --out DIR``).

Each clip file ``humanoid3d_<name>.txt`` is one class (label = index of ``<name>`` in :data:`CLIPS`,
alphabetical). Every clip is "performed" :data:`PERFORMANCES` times and each performance is "recorded"
by all :data:`AZIMUTHS` cameras, all deterministic (fixed seed, no global random state):

- performance p plays the clip at speed ``SPEEDS[p]`` (0.8, 0.9, 1.1, 1.25 x; resampled in time to
  :data:`FPS` = 30 frames/s by interpolating the keyframes: quaternions nlerp, positions linearly);
- window: looping clips ("Loop": "wrap") start at a seeded random offset in [0, clip duration) and cover
  max(clip duration, 2 s) of clip time, wrapping around (the root moves on by each cycle's horizontal
  displacement); the other clips (getup_facedown, getup_faceup, kick, punch) play from the start to the
  end, or a seeded window of 120 frames when longer;
- a camera at azimuth a (degrees, measured from the actor's facing at the window start: 0 = in front,
  90 = at the actor's left) with a seeded elevation of 5-15 degrees looks at the actor's mean root
  position (x, z) at 0.9 m height from 3 m plus the root's largest horizontal excursion; coordinates are
  Kinect-like camera space (x towards the actor's right when facing the camera, y up, z depth, metres);
- independent Gaussian sensor noise of :data:`NOISE_M` = 1 cm on every coordinate of every recording
  (drawn per physical point, so the joints both formats share carry the same noise in both).

15 clips x 4 performances x 8 cameras = 480 sequences of 37-120 frames. Official split ``xview``: train on
the cameras at 0, 60, 120, 180, 240, 300 degrees (360 sequences), test on the held-out cameras at 30 and
210 degrees (120): no test view is a training view, and every performance is seen by both sets.

Format: ``humanoid3d`` by default; ``--format kinect_v1`` (``PrepareOptions.format``) gives the same
recordings in NW-UCLA's 20 Kinect v1 joints (same counts, splits and variants), for cross-format demos.
The raw data folder defaults to the installed ``pybullet_data/data/motions``.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..formats import get_format
from ..readers.deepmimic import (
    POINTS,
    deepmimic_positions,
    humanoid_urdf,
    motion_dir,
    parse_deepmimic,
    parse_urdf,
)
from ..readers.kinematics import axis_rotation, quaternion_matrix
from ..skeleton import SkeletonSequence
from .base import DatasetSource, PrepareOptions, Splits, register_source, split_by

__all__ = ["AZIMUTHS", "CLIPS", "FPS", "HUMANOID_MOTIONS", "NOISE_M", "PERFORMANCES", "SPEEDS", "TEST_AZIMUTHS",
           "TRAIN_AZIMUTHS", "humanoid_recordings"]

CLIPS: tuple[str, ...] = ("backflip", "cartwheel", "crawl", "dance_a", "dance_b", "getup_facedown", "getup_faceup",
                          "jump", "kick", "punch", "roll", "run", "spin", "spinkick", "walk")
TRAIN_AZIMUTHS: tuple[int, ...] = (0, 60, 120, 180, 240, 300)
TEST_AZIMUTHS: tuple[int, ...] = (30, 210)
AZIMUTHS: tuple[int, ...] = tuple(sorted(TRAIN_AZIMUTHS + TEST_AZIMUTHS))
SPEEDS: tuple[float, ...] = (0.8, 0.9, 1.1, 1.25)
PERFORMANCES = len(SPEEDS)
FPS = 30.0
NOISE_M = 0.01
MIN_WINDOW_S = 2.0
MAX_FRAMES = 120
SEED = 16
TARGET_HEIGHT = 0.9
FORMATS = tuple(POINTS)
_ALL_POINTS = sorted({pt for table in POINTS.values() for pt in table.values()})


def _format_name(opts: PrepareOptions) -> str:
    if not opts.format:
        return "humanoid3d"
    name = get_format(opts.format).name
    if name not in FORMATS:
        raise ValueError(f"humanoid-motions is prepared as {' or '.join(FORMATS)}, not {name!r}")
    return name


def _default_root() -> Path:
    return motion_dir()


def _list(root: Path, opts: PrepareOptions) -> tuple[list[str], dict[str, str]]:
    _format_name(opts)  # an unusable --format is one error before any work, not 15 skipped files
    files = sorted(root.glob("humanoid3d_*.txt"))
    items, excluded = [], {}
    for f in files:
        clip = f.stem[len("humanoid3d_"):]
        if clip in CLIPS:
            items.append(str(f))
        else:
            excluded[f.name] = f"not one of the {len(CLIPS)} pybullet_data humanoid clips"
    return items, excluded


def _urdf_for(clip_file: Path) -> Path:
    """The URDF beside the clips in the pybullet_data layout (data/motions -> humanoid/), else the installed one."""
    beside = clip_file.parent.parent.parent / "humanoid" / "humanoid.urdf"
    return beside if beside.is_file() else humanoid_urdf()


def _heading(root_quat: np.ndarray) -> float:
    """Yaw (radians about +y) of the actor: its right axis (root +z) projected on the floor."""
    right = quaternion_matrix(root_quat) @ np.array([0.0, 0.0, 1.0])
    fwd = np.cross([0.0, 1.0, 0.0], right)  # forward = up x right
    if np.hypot(fwd[0], fwd[2]) < 1e-6:
        return 0.0
    return float(np.arctan2(-fwd[2], fwd[0]))  # R_y(psi) @ (1, 0, 0) = (cos psi, 0, -sin psi)


def _camera(points: np.ndarray, root: np.ndarray, heading: float, azimuth_deg: float,
            elevation_deg: float) -> np.ndarray:
    """World points (T, V, 3) -> camera space of a camera at ``azimuth`` from the actor's facing."""
    centre = root[:, [0, 2]].mean(axis=0)
    reach = float(np.hypot(*(root[:, [0, 2]] - centre).T).max())
    target = np.array([centre[0], TARGET_HEIGHT, centre[1]])
    front = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # camera on +x looking at -x
    rot = axis_rotation("x", -np.deg2rad(elevation_deg)) @ front @ axis_rotation(
        "y", -(np.deg2rad(azimuth_deg) + heading))
    return (points - target) @ rot.T + np.array([0.0, 0.0, 3.0 + reach])


def _window(duration: float, loop: bool, speed: float, rng: np.random.Generator) -> tuple[float, int]:
    """(start time in the clip, number of output frames) of one performance."""
    if loop:
        span = max(duration, MIN_WINDOW_S)
        n = int(round(span * FPS / speed))
        return float(rng.uniform(0.0, duration)), min(max(n, 1), MAX_FRAMES)
    n = int(np.floor(duration * FPS / speed + 1e-9)) + 1
    if n <= MAX_FRAMES:
        return 0.0, n
    last_start = duration - (MAX_FRAMES - 1) * speed / FPS
    return float(rng.uniform(0.0, last_start)), MAX_FRAMES


def humanoid_recordings(path: str | Path, fmt: str = "humanoid3d", urdf: str | Path | None = None) -> list[
        SkeletonSequence]:
    """All recordings of one clip file: :data:`PERFORMANCES` x :data:`AZIMUTHS`, in that order (see the module
    docstring for what they are); deterministic for a given clip name."""
    p = Path(path)
    clip = p.stem[len("humanoid3d_"):] if p.stem.startswith("humanoid3d_") else p.stem
    motion = parse_deepmimic(p)
    robot = parse_urdf(urdf if urdf is not None else _urdf_for(p))
    spec = get_format(fmt)
    label = CLIPS.index(clip) if clip in CLIPS else None
    rng = np.random.default_rng([SEED, zlib.crc32(clip.encode())])
    elevations = rng.uniform(5.0, 15.0, size=len(AZIMUTHS))  # one per camera, shared by the performances
    out = []
    for perf, speed in enumerate(SPEEDS):
        start, n = _window(motion.duration, motion.loop, speed, rng)
        sampled = motion.sample(start + np.arange(n) * speed / FPS)
        world = deepmimic_positions(sampled, robot, spec.joints, POINTS[spec.name])
        root = sampled.frames[:, 1:4]
        heading = _heading(sampled.frames[0, 4:8])
        for cam, (az, el) in enumerate(zip(AZIMUTHS, elevations)):
            # noise per physical point, so a joint both formats have gets the same noise in both
            noise = np.random.default_rng([SEED, zlib.crc32(clip.encode()), perf, cam]).normal(
                0.0, NOISE_M, size=(n, len(_ALL_POINTS), 3))[:, [_ALL_POINTS.index(POINTS[spec.name][j])
                                                                  for j in spec.joints]]
            xyz = _camera(world, root, heading, az, el) + noise
            meta: dict[str, Any] = {
                "source": str(p), "name": f"{clip}_p{perf}_a{az:03d}", "clip": clip, "label_name": clip,
                "view": int(az), "camera": cam, "elevation": round(float(el), 3), "performance": perf,
                "speed": speed, "offset": round(start, 4), "loop": "wrap" if motion.loop else "none",
                "noise_m": NOISE_M, "units": "m"}
            if label is not None:
                meta["label"] = label
            out.append(SkeletonSequence(xyz.astype(np.float32)[None], format=spec.name, fps=FPS, meta=meta))
    return out


def _load(item: str, opts: PrepareOptions) -> list[SkeletonSequence]:
    return humanoid_recordings(item, _format_name(opts))


def _splits(metas: list[dict[str, Any]], opts: PrepareOptions) -> Splits:
    return split_by(metas, {"xview": lambda m: "train" if m["view"] in TRAIN_AZIMUTHS else "test"})


_N = len(CLIPS) * PERFORMANCES
HUMANOID_MOTIONS = register_source(DatasetSource(
    name="humanoid-motions", format="humanoid3d",
    description=f"DeepMimic humanoid clips of pybullet_data: {len(CLIPS)} classes (one per clip) x {PERFORMANCES}"
                f" performances (speed {', '.join(f'{s:g}' for s in SPEEDS)}x, seeded start offset; looping clips"
                f" wrap) x {len(AZIMUTHS)} cameras around the actor (5-15 degree elevation), 1 cm noise, 30 fps; xview:"
                f" azimuths {'/'.join(map(str, TRAIN_AZIMUTHS))} train, {'/'.join(map(str, TEST_AZIMUTHS))} test;"
                " --format kinect_v1 for Kinect v1 joints; --root defaults to the installed pybullet_data",
    list_items=_list, load=_load, make_splits=_splits,
    official={"sequences": _N * len(AZIMUTHS),
              "splits": {"xview": {"train": _N * len(TRAIN_AZIMUTHS), "test": _N * len(TEST_AZIMUTHS)}}},
    class_names=CLIPS, default_root=_default_root,
))

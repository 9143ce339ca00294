"""Generated stand-ins for the public data sets' sample files: each release's folder layout, file names and
file format, filled with synthetic motion (the releases themselves may not be redistributed).

``write_samples(root, name)`` writes ``root/name`` laid out as the research data folder the tests read
(``S2I_SHARED_DATA``, see docs/guide.md "Data sets"), so a test that needs "a file in that layout" runs
without the data; tests of the releases' own counts and values still need the real files. Seeded: the same
bytes every time.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..formats import get_format
from .actions import limb_swing_sequence
from .writers import (
    write_kinetics,
    write_msr_action3d,
    write_ntu,
    write_nw_ucla,
    write_pku_labels,
    write_pku_skeleton,
    write_utd_mhad,
)

__all__ = ["SAMPLES", "write_samples"]

_KINECT_V1 = get_format("kinect_v1").joints


def _kinect_motion(rng: np.random.Generator, label: int, t: int, fmt: str = "kinect_v1") -> np.ndarray:
    """(t, 20, 3) metres of one person swinging a limb, in the joint order of a Kinect v1 family ``fmt``
    (NTU-25's first 20 joints are Kinect v1's)."""
    x = limb_swing_sequence(label, t, rng)[0, :, :20]
    order = [_KINECT_V1.index(j) for j in get_format(fmt).joints]
    return x[:, order]


def _nw_ucla(root: Path, rng: np.random.Generator) -> None:
    """``all_sqe/aAA_sSS_eEE_vVV.json``: actions 01-06, subjects 1-3, repetitions 0-1, views 1-3 (108 files)."""
    d = root / "all_sqe"
    d.mkdir(parents=True)
    for a in range(1, 7):
        for s in range(1, 4):
            for e in range(2):
                for v in range(1, 4):
                    write_nw_ucla(d / f"a{a:02d}_s{s:02d}_e{e:02d}_v{v:02d}.json",
                                  _kinect_motion(rng, a - 1, int(rng.integers(20, 41))), label=a)


#: the real sample's file names (mutual action A058 with two bodies)
NTU_NAMES = ("S001C001P001R001A011", "S001C003P008R002A058", "S002C001P003R001A003", "S003C001P015R001A034",
             "S004C002P003R001A017")


def _ntu_samples(root: Path, rng: np.random.Generator) -> None:
    """Five raw NTU-60 ``.skeleton`` files (two bodies in the mutual action A058)."""
    root.mkdir(parents=True)
    for name in NTU_NAMES:
        t = int(rng.integers(40, 61))
        persons = 2 if 50 <= int(name[-3:]) <= 60 else 1
        bodies = [limb_swing_sequence(k + 2 * p, t, rng)[0] + np.array([0.8 * p, 0.0, 0.0], dtype=np.float32)
                  for p, k in enumerate(rng.integers(0, 2, persons))]
        write_ntu(root / f"{name}.skeleton",
                  [[(f"7205759403793{p}", body[f]) for p, body in enumerate(bodies)] for f in range(t)])


def _ntu_metadata(root: Path, rng: np.random.Generator) -> None:
    """An official-style missing-skeleton list (header, blank line, sample names) for NTU-60."""
    root.mkdir(parents=True)
    (root / "NTU_RGBD_samples_with_missing_skeletons.txt").write_text(
        "Samples of the generated stand-in data with missing skeletons.\n\nS001C002P005R002A008\n"
        "S001C002P006R001A008\n")


def _utd_mhad(root: Path, rng: np.random.Generator) -> None:
    """``Skeleton/aA_sS_tT_skeleton.mat``: actions 1-3 and 10, subjects 1-2, trials 1-2 (16 files)."""
    d = root / "Skeleton"
    d.mkdir(parents=True)
    for a in (1, 2, 3, 10):
        for s in (1, 2):
            for t in (1, 2):
                write_utd_mhad(d / f"a{a}_s{s}_t{t}_skeleton.mat",
                               _kinect_motion(rng, a - 1, int(rng.integers(41, 60)), "utd_mhad"))


def _msr_action3d(root: Path, rng: np.random.Generator) -> None:
    """Both variants, actions 1-5, subjects 1-2, repetitions 1-3 (30 files each): world metres and the
    screen variant's depth-image pixels and raw depth (CRLF lines)."""
    world = root / "MSRAction3DSkeletonReal3D"
    screen = root / "MSRAction3DSkeleton(20joints)"
    world.mkdir(parents=True)
    screen.mkdir()
    for a in range(1, 6):
        for s in (1, 2):
            for e in (1, 2, 3):
                x = _kinect_motion(rng, a - 1, int(rng.integers(20, 41)), "msr_action3d")
                c = np.where(rng.random(x.shape[:2]) < 0.9, 1.0, 0.5)
                stem = f"a{a:02d}_s{s:02d}_e{e:02d}"
                write_msr_action3d(world / f"{stem}_skeleton3D.txt", x, c)
                uvd = np.stack([160 + 200 * x[..., 0], 120 - 200 * x[..., 1], 245 * x[..., 2]], axis=-1)
                write_msr_action3d(screen / f"{stem}_skeleton.txt", uvd, c, crlf=True)


def _pku_video(rng: np.random.Generator, instances: list[tuple[int, int, int, int]], t: int,
               persons: int) -> np.ndarray:
    """(t, 2, 25, 3): ``persons`` bodies swinging limbs (the instance's label picks the limb); an absent
    second body is all zeros."""
    out = np.zeros((t, 2, 25, 3), dtype=np.float32)
    for p in range(persons):
        out[:, p] = limb_swing_sequence(p, t, rng)[0] + np.array([0.8 * p, 0.0, 0.0], dtype=np.float32)
    for label, start, end, _ in instances:
        out[start - 1:end, 0] = limb_swing_sequence(label, end - start + 1, rng)[0]
    return out


def _pku_mmd_sample(root: Path, rng: np.random.Generator) -> None:
    """phase1/: two untrimmed videos (0160-L one person, 0310-R two persons) with label files and the two
    split lists; phase2/: A10N08-L.txt (its second body present in part of the frames), no label file."""
    p1 = root / "phase1"
    skel, lab, split = (p1 / "Data" / "Skeleton" / "PKU_Skeleton_Renew", p1 / "Label" / "Train_Label_PKU_final",
                        p1 / "Split" / "Split")
    for d in (skel, lab, split):
        d.mkdir(parents=True)
    videos = {"0160-L": ([(4, 11, 60, 2), (40, 71, 130, 1), (9, 141, 200, 2)], 220, 1),
              "0310-R": ([(27, 6, 50, 2), (18, 61, 90, 1), (26, 101, 160, 2)], 170, 2)}
    for vid, (inst, t, persons) in videos.items():
        write_pku_skeleton(skel / f"{vid}.txt", _pku_video(rng, inst, t, persons))
        write_pku_labels(lab / f"{vid}.txt", inst)
    (split / "cross-subject.txt").write_text("Training videos: \n0160-L, 0002-L, 0002-M\n"
                                             "Validataion videos: \n0310-R, 0003-R\n")
    (split / "cross-view.txt").write_text("Training videos: \n0160-L, 0310-R, 0003-R\n"
                                          "Validataion videos: \n0002-M\n")
    p2 = root / "phase2"
    p2.mkdir()
    x = _pku_video(rng, [], 90, 2)
    x[60:, 1] = 0  # the second body leaves after 60 frames
    write_pku_skeleton(p2 / "A10N08-L.txt", x)


def _kinetics_skeleton_sample(root: Path, rng: np.random.Generator) -> None:
    """``kinetics-skeleton/kinetics_val_old/<11-character id>.json`` (7 clips, 0-3 people a frame, some
    undetected joints), the val label file and ``resource/kinetics_skeleton/label_name.txt`` (400 names)."""
    clips = root / "kinetics-skeleton" / "kinetics_val_old"
    clips.mkdir(parents=True)
    names = [f"generated action {i:03d}" for i in range(400)]
    labels = {}
    for k in range(7):
        vid = f"generated{k:02d}"  # 11 characters, as a YouTube id
        idx = int(rng.integers(0, 400))
        t = int(rng.integers(30, 80))
        frames = []
        for f in range(t):
            people = []
            for _ in range(int(rng.integers(0, 4)) if f % 10 else 0):  # every 10th frame: nobody detected
                xy = np.clip(0.5 + 0.2 * rng.normal(size=(18, 2)) + 0.02 * np.sin(f / 5), 0.0, 1.0)
                sc = rng.uniform(0.05, 1.0, 18)
                off = rng.random(18) < 0.1
                xy[off], sc[off] = 0.0, 0.0
                people.append((xy, sc))
            frames.append(people)
        write_kinetics(clips / f"{vid}.json", frames, names[idx], idx)
        labels[vid] = {"has_skeleton": True, "label": names[idx], "label_index": idx}
    (root / "kinetics-skeleton" / "kinetics_val_label-old.json").write_text(json.dumps(labels))
    res = root / "resource" / "kinetics_skeleton"
    res.mkdir(parents=True)
    (res / "label_name.txt").write_text("\n".join(names) + "\n")


#: folder name (as in the research data folder) -> writer of its generated stand-in
SAMPLES: dict[str, Callable[[Path, np.random.Generator], None]] = {
    "nw_ucla": _nw_ucla, "ntu_samples": _ntu_samples, "ntu_metadata": _ntu_metadata, "utd_mhad": _utd_mhad,
    "msr_action3d": _msr_action3d, "pku_mmd_sample": _pku_mmd_sample,
    "kinetics_skeleton_sample": _kinetics_skeleton_sample,
}


def write_samples(root: str | Path, name: str, seed: int = 0) -> Path:
    """Write the generated stand-in for data folder ``name`` (a key of :data:`SAMPLES`) at ``root/name``
    (once: an existing folder is returned as it is) and return that folder."""
    if name not in SAMPLES:
        raise ValueError(f"no generated stand-in for {name!r}; known: {', '.join(sorted(SAMPLES))}")
    out = Path(root) / name
    if not out.exists():
        tmp = Path(root) / f".{name}.partial"
        if tmp.exists():  # left by an interrupted earlier call: ours to replace
            shutil.rmtree(tmp)
        SAMPLES[name](tmp, np.random.default_rng(seed))
        tmp.rename(out)
    return out

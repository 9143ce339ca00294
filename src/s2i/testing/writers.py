"""Writers of raw skeleton files in their original layouts, for tests and scale benchmarks.

One writer per layout (NTU ``.skeleton``, NW-UCLA JSON, UTD-MHAD ``.mat``, MSR Action3D text, PKU-MMD
skeleton and label text, Kinetics-skeleton JSON), so every test that needs a raw file builds it the same way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .synthetic import NTU_REST

__all__ = ["NTU_BODY_INFO", "generate_ntu_files", "ntu_text", "write_kinetics", "write_msr_action3d", "write_ntu",
           "write_nw_ucla", "write_pku_labels", "write_pku_skeleton", "write_utd_mhad"]

#: the 10 body-info values after the body id (clipedEdges, hand states, isRestricted, lean x/y, state)
NTU_BODY_INFO = "0 1 1 1 1 0 0.1 0.1 2"


def ntu_text(frames: Sequence[Sequence[tuple[str, np.ndarray]]], tail: str = "0 0 0 0 0 0 0 0 2",
             body_info: str = NTU_BODY_INFO) -> str:
    """Raw NTU ``.skeleton`` text (CRLF lines): ``frames[f]`` lists that frame's bodies as
    (body id, (25, 3) xyz); ``tail`` is the 9 values after x y z of every joint line (depth/colour
    coordinates, orientation, tracking state)."""
    out = [str(len(frames))]
    for bodies in frames:
        out.append(str(len(bodies)))
        for bid, xyz in bodies:
            out.append(f"{bid} {body_info}")
            out.append(str(len(xyz)))
            out += [f"{x} {y} {z} {tail}" for x, y, z in np.asarray(xyz, dtype=np.float64).tolist()]
    return "\r\n".join(out) + "\r\n"


def write_ntu(path: str | Path, frames: Sequence[Sequence[tuple[str, np.ndarray]]], **kw: str) -> Path:
    """Write :func:`ntu_text` to ``path``; returns the path."""
    path = Path(path)
    path.write_bytes(ntu_text(frames, **kw).encode())
    return path


def _moving_body(rng: np.random.Generator, frames: int, dx: float) -> np.ndarray:
    """(frames, 25, 3) of one body swinging in place, ``dx`` metres to the side."""
    ph = np.linspace(0, 2 * np.pi * rng.uniform(0.5, 2), frames)[:, None]
    return NTU_REST[None] + np.array([dx, 0.1, 3.2]) + 0.15 * np.sin(ph + np.arange(25)[None] * 0.3)[..., None]


def generate_ntu_files(root: str | Path, n: int, seed: int = 0) -> list[Path]:
    """Write ``n`` raw NTU-60 files named like real samples under ``root`` (for scale tests).

    Lengths follow NTU's spread (30-300 frames, median near 80); mutual actions (A050-A060) have two
    bodies; about 5 % carry a short-lived noise body, as the real data does.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if n > 10_812:
        raise ValueError("generated NTU names are unique up to 10,812 files")
    paths = []
    for i in range(n):
        # (setup, camera, subject, replication) is unique for up to 17 * 3 * 106 * 2 = 10,812 files
        setup, cam, subject, rep = 1 + i % 17, 1 + (i // 17) % 3, 1 + (i // 51) % 106, 1 + (i // 5406) % 2
        action = 1 + (i * 7) % 60
        p = root / f"S{setup:03d}C{cam:03d}P{subject:03d}R{rep:03d}A{action:03d}.skeleton"
        frames = int(np.clip(rng.lognormal(np.log(80), 0.45), 30, 300))
        bodies = [_moving_body(rng, frames, 0.8 * b) for b in range(2 if 50 <= action <= 60 else 1)]
        noise = _moving_body(rng, 5, -1.5) if rng.random() < 0.05 else None
        if not p.exists():
            write_ntu(p, [[(f"7205759403792{b}", body[f]) for b, body in enumerate(bodies)]
                          + ([("72057594037999", noise[f])] if noise is not None and f < 5 else [])
                          for f in range(frames)])
        paths.append(p)
    return paths


def write_nw_ucla(path: str | Path, joints: np.ndarray, label: int) -> Path:
    """An NW-UCLA ``all_sqe`` JSON file: ``joints`` (T, 20, 3) in Kinect v1 order, ``label`` 1..10."""
    path = Path(path)
    xyz = np.asarray(joints, dtype=np.float64)
    path.write_text(json.dumps({"file_name": path.stem, "label": int(label),
                                "skeletons": np.round(xyz, 6).tolist()}))
    return path


def write_utd_mhad(path: str | Path, joints: np.ndarray) -> Path:
    """A UTD-MHAD MATLAB v5 file holding ``d_skel`` (20, 3, T) from ``joints`` (T, 20, 3); the same bytes for
    the same joints (scipy writes the clock time into the 116-byte header text: a fixed text replaces it)."""
    import io

    from scipy.io import savemat

    path = Path(path)
    buf = io.BytesIO()
    savemat(buf, {"d_skel": np.asarray(joints, dtype=np.float64).transpose(1, 2, 0)}, do_compression=True)
    header = b"MATLAB 5.0 MAT-file, written by s2i.testing".ljust(116)
    path.write_bytes(header + buf.getvalue()[116:])
    return path


def write_msr_action3d(path: str | Path, joints: np.ndarray, confidence: np.ndarray | None = None,
                       crlf: bool = False) -> Path:
    """An MSR Action3D text file: 20 lines ``x y z c`` per frame from ``joints`` (T, 20, 3) and
    ``confidence`` (T, 20) in [0, 1] (default 1); the screen variant of the release has CRLF lines."""
    path = Path(path)
    xyz = np.asarray(joints, dtype=np.float64)
    c = np.ones(xyz.shape[:2]) if confidence is None else np.asarray(confidence, dtype=np.float64)
    rows = np.concatenate([xyz, c[..., None]], axis=-1).reshape(-1, 4)
    nl = "\r\n" if crlf else "\n"
    path.write_bytes((nl.join(" ".join(f"{v:.6f}" for v in r) for r in rows) + nl).encode("ascii"))
    return path


def write_pku_skeleton(path: str | Path, bodies: np.ndarray) -> Path:
    """A PKU-MMD skeleton file: one line of 150 numbers a frame from ``bodies`` (T, 2, 25, 3); a body
    written as all zeros is absent in that frame."""
    path = Path(path)
    flat = np.asarray(bodies, dtype=np.float64).reshape(len(bodies), 150)
    path.write_text("".join(" ".join(f"{v:.6f}" for v in row) + "\n" for row in flat))
    return path


def write_pku_labels(path: str | Path, instances: Sequence[tuple[int, int, int, int]]) -> Path:
    """A PKU-MMD label file: one ``label,start,end,confidence`` line per action instance."""
    path = Path(path)
    path.write_text("".join(f"{a},{b},{c},{d}\n" for a, b, c, d in instances))
    return path


def write_kinetics(path: str | Path, people: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]], label: str,
                   label_index: int) -> Path:
    """A Kinetics-skeleton (ST-GCN) JSON file: ``people[f]`` lists frame f's people as ((18, 2) x, y in
    [0, 1], (18,) scores)."""
    path = Path(path)
    data = [{"frame_index": f + 1,
             "skeleton": [{"pose": np.round(np.asarray(xy, dtype=np.float64), 3).ravel().tolist(),
                           "score": np.round(np.asarray(sc, dtype=np.float64), 3).tolist()} for xy, sc in frame]}
            for f, frame in enumerate(people)]
    path.write_text(json.dumps({"data": data, "label": label, "label_index": int(label_index)}))
    return path

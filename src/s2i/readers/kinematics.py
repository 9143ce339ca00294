"""Rotation and forward-kinematics helpers shared by the BVH and ASF/AMC readers.

Conventions: right-handed axes, rotation matrices act on column vectors (``v' = R @ v``), angles in
radians. All functions are vectorised over any leading (frame) axes; only the joint tree is looped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["axis_rotation", "euler_matrix", "forward_kinematics"]

_AXES = {"x": 0, "y": 1, "z": 2}


def axis_rotation(axis: str, angle: np.ndarray | float) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about ``axis`` ('x', 'y' or 'z') by ``angle`` radians."""
    a = np.asarray(angle, dtype=np.float64)
    k = _AXES[axis.lower()]
    i, j = (k + 1) % 3, (k + 2) % 3  # the rotated plane in cyclic order: (y, z), (z, x), (x, y)
    c, s = np.cos(a), np.sin(a)
    out = np.zeros(a.shape + (3, 3), dtype=np.float64)
    out[..., k, k] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    out[..., i, j] = -s
    out[..., j, i] = s
    return out


def euler_matrix(angles: np.ndarray, axes: str) -> np.ndarray:
    """``R = R_axes[0](angles[..., 0]) @ R_axes[1](angles[..., 1]) @ ...`` -> (..., 3, 3).

    This is the BVH product order: for channels "Zrotation Yrotation Xrotation" pass axes "zyx" and
    get ``Rz @ Ry @ Rx`` (the last-listed rotation is applied to the vector first). Acclaim ASF/AMC
    lists rotations in the order they are applied, so "rx ry rz" is ``euler_matrix(a[..., ::-1], "zyx")``.
    """
    a = np.asarray(angles, dtype=np.float64)
    if a.shape[-1] != len(axes):
        raise ValueError(f"{len(axes)} axes {axes!r} for angle arrays with last axis {a.shape[-1]}")
    out = np.broadcast_to(np.eye(3), a.shape[:-1] + (3, 3)).copy()
    for n, ax in enumerate(axes):
        out = out @ axis_rotation(ax, a[..., n])
    return out


def forward_kinematics(
    parents: Sequence[int],
    offsets: np.ndarray,
    local_rot: np.ndarray,
    translation: np.ndarray | None = None,
) -> np.ndarray:
    """Joint positions (T, J, 3) of a kinematic tree.

    parents: (J,) parent index per joint, -1 for roots; every parent precedes its children.
    offsets: (J, 3) or (T, J, 3) joint position relative to its parent, in the parent's frame.
    local_rot: (T, J, 3, 3) rotation of each joint relative to its parent's frame.
    translation: optional (T, J, 3) per-joint translation added to the offset (BVH position channels).
    ``global_rot[j] = global_rot[p] @ local_rot[j]`` and ``pos[j] = pos[p] + global_rot[p] @ offset[j]``.
    """
    local_rot = np.asarray(local_rot, dtype=np.float64)
    t, n = local_rot.shape[:2]
    off = np.broadcast_to(np.asarray(offsets, dtype=np.float64), (t, n, 3))
    if translation is not None:
        off = off + translation
    pos = np.empty((t, n, 3), dtype=np.float64)
    rot = np.empty((t, n, 3, 3), dtype=np.float64)
    for j, p in enumerate(parents):
        if p < 0:
            rot[:, j] = local_rot[:, j]
            pos[:, j] = off[:, j]
        else:
            if p >= j:
                raise ValueError(f"joint {j} has parent {p}: parents must precede their children")
            rot[:, j] = rot[:, p] @ local_rot[:, j]
            pos[:, j] = pos[:, p] + np.einsum("tab,tb->ta", rot[:, p], off[:, j])
    return pos

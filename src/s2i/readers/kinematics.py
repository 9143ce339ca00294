"""Rotation and forward-kinematics helpers shared by the BVH, ASF/AMC and DeepMimic readers.

Conventions: right-handed axes, rotation matrices act on column vectors (``v' = R @ v``), angles in
radians. All functions are vectorised over any leading (frame) axes; only the joint tree is looped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["axis_angle_matrix", "axis_rotation", "euler_matrix", "forward_kinematics", "quaternion_matrix"]

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


def quaternion_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of quaternions (..., 4) given as (w, x, y, z), normalised first.

    A zero quaternion has no rotation: it raises a ValueError (readers check for it and name the frame).
    """
    q = np.asarray(q, dtype=np.float64)
    if q.shape[-1] != 4:
        raise ValueError(f"quaternions need a last axis of 4 (w, x, y, z), got shape {q.shape}")
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if (norm == 0).any():
        raise ValueError("zero quaternion (no rotation can be derived from it)")
    w, x, y, z = np.moveaxis(q / norm, -1, 0)
    out = np.empty(q.shape[:-1] + (3, 3), dtype=np.float64)
    out[..., 0, 0] = 1 - 2 * (y * y + z * z)
    out[..., 0, 1] = 2 * (x * y - w * z)
    out[..., 0, 2] = 2 * (x * z + w * y)
    out[..., 1, 0] = 2 * (x * y + w * z)
    out[..., 1, 1] = 1 - 2 * (x * x + z * z)
    out[..., 1, 2] = 2 * (y * z - w * x)
    out[..., 2, 0] = 2 * (x * z - w * y)
    out[..., 2, 1] = 2 * (y * z + w * x)
    out[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return out


def axis_angle_matrix(axis: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about the unit vector ``axis`` (3,) by ``angle`` radians (Rodrigues)."""
    k = np.asarray(axis, dtype=np.float64)
    n = np.linalg.norm(k)
    if k.shape != (3,) or n == 0:
        raise ValueError(f"axis must be a non-zero 3-vector, got {axis!r}")
    k = k / n
    a = np.asarray(angle, dtype=np.float64)[..., None, None]
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(a) * kx + (1 - np.cos(a)) * (kx @ kx)


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

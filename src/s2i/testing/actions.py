"""A tiny separable action data set for protocol tests: the class says which limb swings.

Classes (NTU-25 skeletons, :data:`~s2i.testing.synthetic.NTU_REST`): 0 left arm, 1 right arm, 2 left leg,
3 right leg (more classes repeat the limbs at a faster swing). Amplitude, phase, speed, body offset and
noise vary per sequence, so the task is separable but not trivial. Seeded: the same store every time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..skeleton import SkeletonSequence
from ..store import SkeletonStore, StoreWriter
from .synthetic import NTU_REST

__all__ = ["LIMBS", "limb_swing_sequence", "write_limb_action_store"]

#: NTU-25 joints of each swinging limb (shoulder/hip excluded), in class order
LIMBS = ([5, 6, 7, 21, 22], [9, 10, 11, 23, 24], [13, 14, 15], [17, 18, 19])


def limb_swing_sequence(label: int, t: int, rng: np.random.Generator) -> np.ndarray:
    """(1, t, 25, 3) one person swinging limb ``label % 4`` (faster for label >= 4)."""
    limb = LIMBS[label % 4]
    speed = 1.0 + label // 4
    amp = rng.uniform(0.25, 0.5)
    ph = np.linspace(0, 2 * np.pi * speed, t, dtype=np.float32) + rng.uniform(0, 2 * np.pi)
    x = np.repeat(NTU_REST[None], t, axis=0).copy()
    w = np.linspace(0.6, 1.2, len(limb), dtype=np.float32)
    x[:, limb, 2] += amp * np.sin(ph)[:, None] * w
    x[:, limb, 1] += 0.5 * amp * np.abs(np.sin(ph))[:, None] * w
    x += np.array([rng.normal(0, .1), 0, 3.0 + rng.normal(0, .2)], dtype=np.float32)
    x += rng.normal(0, 0.01, x.shape).astype(np.float32)
    return x[None].astype(np.float32)


def write_limb_action_store(out: str | Path, classes: int = 4, train_per_class: int = 12, test_per_class: int = 6,
                            frames: tuple[int, int] = (24, 40), seed: int = 0) -> SkeletonStore:
    """Write the store (split ``xsub``: train / test parts by subject, interleaved ids) and open it."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    test: list[int] = []
    out = Path(out)
    with StoreWriter(out, "ntu25", 3, 25) as w:
        i = 0
        for c in range(classes):
            for k in range(train_per_class + test_per_class):
                t = int(rng.integers(frames[0], frames[1] + 1))
                is_train = k < train_per_class
                subject = k % 3 + 1 if is_train else 4 + k % 2  # cross-subject: 1-3 train, 4-5 test
                w.append(SkeletonSequence(limb_swing_sequence(c, t, rng), format="ntu25",
                                          meta={"label": c, "label_name": f"limb{c}", "source": f"seq{i:04d}",
                                                "subject": subject}))
                (train if is_train else test).append(i)
                i += 1
        w.finalize({"xsub": {"train": train, "test": test}},
                   {"dataset": "limb-actions", "num_classes": classes,
                    "class_names": [f"limb{c}" for c in range(classes)]}, {})
    return SkeletonStore(out)

"""Golden S2I images: sha256 of the float32 image bytes for real files under several option sets.

Run ``python tests/golden/make_golden.py`` only when an intended change of the images is made (the
commit must say why); ``tests/test_golden_images.py`` checks that every refactor keeps them byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "src"))  # this checkout's s2i, never an installed copy
CASES = {
    # name: (path under shared/data, encoder options)
    "ntu_single_default": ("ntu_samples/S001C001P001R001A011.skeleton", {}),
    "ntu_pair_default": ("ntu_samples/S001C003P008R002A058.skeleton", {}),
    "ntu_pair_bone_scale": ("ntu_samples/S001C003P008R002A058.skeleton",
                            {"stream": "bone", "scale": True, "value_range": "fixed"}),
    "ntu_motion_arclength": ("ntu_samples/S002C001P003R001A003.skeleton",
                             {"stream": "motion", "part_resample": "arclength", "height": 112, "width": 64}),
    "ntu_raw_mean": ("ntu_samples/S003C001P015R001A034.skeleton", {"layout": "raw", "persons": "mean"}),
    "ntu_random_first_nearest": ("ntu_samples/S004C002P003R001A017.skeleton",
                                 {"layout": "random", "persons": "first", "time_resample": "nearest",
                                  "part_resample": "nearest"}),
    "nwucla_default": ("nw_ucla/all_sqe/a01_s01_e00_v01.json", {}),
    "nwucla_bone_motion": ("nw_ucla/all_sqe/a06_s03_e01_v02.json", {"stream": "bone_motion", "persons": "first"}),
    "utd_default": ("utd_mhad/Skeleton/a1_s1_t1_skeleton.mat", {}),
    "msr_default": ("msr_action3d/MSRAction3DSkeletonReal3D/a01_s01_e01_skeleton3D.txt", {"persons": "first"}),
    "kinetics_2d": ("kinetics_skeleton_sample", {}),
    "bvh_cmu": ("mocap_samples/01_01.bvh", {"scale": True, "persons": "first"}),
}


def image_for(data: Path, rel: str, options: dict) -> np.ndarray:
    """Read one real file and encode it with the data-set range estimated from that sequence itself."""
    from s2i.encode import encode, estimate_value_range
    from s2i.readers import read_sequence

    path = data / rel
    if path.is_dir():  # the first Kinetics clip in name order
        path = sorted(p for p in path.rglob("*.json") if "label" not in p.name)[0]
    seq = read_sequence(path)
    if seq.num_frames > 400:
        seq = type(seq)(seq.joints[:, :400], format=seq.format,
                        confidence=None if seq.confidence is None else seq.confidence[:, :400], fps=seq.fps,
                        meta=seq.meta)
    conf = seq.confidence
    opts = dict(options)
    if opts.get("value_range", "dataset") == "dataset":
        lo, hi = estimate_value_range(seq.joints[None], seq.format, confidence=None if conf is None else conf[None],
                                      **opts)
        opts.update(range_lo=lo, range_hi=hi)
    return encode(seq.joints, seq.format, confidence=conf, **opts)


def digest(img: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(img, dtype=np.float32).tobytes()).hexdigest()


def main(data: Path) -> None:
    out = {name: {"file": rel, "options": opts, "sha256": digest(image_for(data, rel, opts))}
           for name, (rel, opts) in CASES.items()}
    (HERE / "images.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {len(out)} golden digests")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[4] / "shared" / "data")

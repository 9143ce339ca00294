"""The 25-joint (NTU order) sequences of the shared data as one unlabelled folder for ``s2i prepare folder``.

The untrimmed PKU-MMD streams are cut into ``--win``-frame windows (stride ``--win`` / 2), the raw NTU RGB+D
files are kept whole: links to the files in ``--out`` and ``--out/windows.csv`` (file, label, start, end, split
rows: one segment each). Prints one JSON line (segments, files). Used by ``configs/screens/ntu_to_kinect.yaml``:

    python benchmarks/ntu25_windows.py --data ../shared/data --out RAW25
    s2i prepare folder --root RAW25 --format ntu25 --labels RAW25/windows.csv --out STORES/ntu25
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from s2i.readers import read_input

PATTERNS = ("pku_mmd_sample/phase1/Data/Skeleton/*/*.txt", "pku_mmd_sample/phase2/*.txt", "ntu_samples/*.skeleton")


def windows(path: Path, win: int) -> list[tuple[str, str, int, int, str]]:
    """A stream's windows (1-based start, end), or a whole NTU file as one segment."""
    n = read_input(path).num_frames
    if path.suffix != ".txt":
        return [(path.name, "unlabelled", 1, n, "train")]
    starts = range(1, max(n - win + 1, 1) + 1, win // 2)
    return [(path.name, "unlabelled", s, min(s + win - 1, n), "train") for s in starts]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="the shared data folder")
    ap.add_argument("--out", type=Path, required=True, help="folder of the links and windows.csv")
    ap.add_argument("--win", type=int, default=60, help="window length in frames (stride: half of it)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    files = sorted({p.resolve() for pattern in PATTERNS for p in args.data.glob(pattern)}, key=lambda p: p.name)
    rows = []
    for f in files:
        link = args.out / f.name
        if not link.is_symlink():
            link.symlink_to(f)
        rows += windows(link, args.win)
    with open(args.out / "windows.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("file", "label", "start", "end", "split"), *rows])
    print(json.dumps({"benchmark": "ntu25_windows", "files": len(files), "segments": len(rows),
                      "csv": str(args.out / "windows.csv")}))


if __name__ == "__main__":
    main()

"""Scale check of ``s2i prepare``: peak memory must not grow with the number of files.

Generates raw NTU-format files (realistic lengths and body counts, see s2i.testing.writers), prepares the
first 2,000 and then all 10,000 in fresh processes, and samples the resident memory of the whole
process tree (main process + reader workers) every 50 ms. Prints files/s and peak RSS for both sizes
and an extrapolation of the time for NTU-120 (114,480 files). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from s2i.testing import generate_ntu_files as generate

NTU120_FILES = 114_480


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_prepare(root: Path, out: Path, workers: int) -> dict[str, float]:
    cmd = [sys.executable, "-m", "s2i", "prepare", "ntu60", "--root", str(root), "--out", str(out),
           "--workers", str(workers), "--quiet", "--overwrite"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_tree = peak_main = 0
    while proc.poll() is None:
        tree = [proc.pid]
        i = 0
        while i < len(tree):
            tree += _children(tree[i])
            i += 1
        rss = [_rss_kb(p) for p in tree]
        peak_tree = max(peak_tree, sum(rss))
        peak_main = max(peak_main, rss[0])
        time.sleep(0.05)
    dt = time.perf_counter() - t0
    stdout, stderr = proc.communicate()
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"prepare failed ({proc.returncode}): {stderr[-2000:]}")
    return {"seconds": dt, "peak_rss_tree_mb": peak_tree / 1024, "peak_rss_main_mb": peak_main / 1024,
            "stdout": stdout.strip().splitlines()[0] if stdout.strip() else ""}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--small", type=int, default=2_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "s2i_ntu_synth",
                    help="where the generated raw files are kept between runs")
    args = ap.parse_args()
    t0 = time.perf_counter()
    paths = generate(args.cache, args.files)
    gen_s = time.perf_counter() - t0
    res: dict[str, float | int | str] = {"generate_seconds": round(gen_s, 1), "workers": args.workers}
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small"
        small.mkdir()
        for p in paths[: args.small]:
            (small / p.name).symlink_to(p)
        big = Path(tmp) / "big"
        big.mkdir()
        for p in paths:
            (big / p.name).symlink_to(p)
        for label, root, n in (("small", small, args.small), ("large", big, args.files)):
            r = run_prepare(root, Path(tmp) / f"store_{label}", args.workers)
            print(f"{n} files: {r['seconds']:.1f} s, peak RSS tree {r['peak_rss_tree_mb']:.0f} MB, "
                  f"main {r['peak_rss_main_mb']:.0f} MB | {r['stdout']}")
            res[f"files_{label}"] = n
            res[f"seconds_{label}"] = round(r["seconds"], 1)
            res[f"files_per_s_{label}"] = round(n / r["seconds"], 1)
            res[f"peak_rss_tree_mb_{label}"] = round(r["peak_rss_tree_mb"], 1)
            res[f"peak_rss_main_mb_{label}"] = round(r["peak_rss_main_mb"], 1)
    res["rss_growth_ratio"] = round(float(res["peak_rss_tree_mb_large"]) / float(res["peak_rss_tree_mb_small"]), 3)
    res["ntu120_extrapolated_minutes"] = round(NTU120_FILES / float(res["files_per_s_large"]) / 60, 1)
    print(json.dumps(res))


if __name__ == "__main__":
    main()

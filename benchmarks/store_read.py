"""Prepare throughput (files/s) and random-access read throughput of a store vs the original files.

For each data set (real NW-UCLA from ../shared/data when present; generated raw NTU files always):
prepare a store in a temporary folder, then read the same random sample of sequences (a) from the
store and (b) by parsing the original files, in one run. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from s2i.data import SkeletonDataset
from s2i.readers import read_sequence
from s2i.store import SkeletonStore
from s2i.store.prepare import prepare
from s2i.testing import generate_ntu_files as generate

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def measure(name: str, dataset: str, root: Path, work: Path, sample: int, workers: int) -> dict[str, float]:
    out = work / f"{name}-store"
    t0 = time.perf_counter()
    res = prepare(dataset, root, out, workers=workers, progress=False, overwrite=True)
    t_prep = time.perf_counter() - t0
    store = SkeletonStore(out)
    rng = np.random.default_rng(0)
    ids = rng.choice(len(store), size=min(sample, len(store)), replace=False)
    raw_root = Path(store.manifest["root"])
    sources = [raw_root / store.meta[int(i)]["source"] for i in ids]
    t0 = time.perf_counter()
    for i in ids:
        store.joints(int(i))
    t_store = time.perf_counter() - t0
    ds = SkeletonDataset(store)
    t0 = time.perf_counter()
    for i in ids:
        ds[int(i)]
    t_ds = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in sources:
        read_sequence(s)
    t_raw = time.perf_counter() - t0
    n = len(ids)
    return {
        f"{name}_files": res.files,
        f"{name}_prepare_files_per_s": res.files / t_prep,
        f"{name}_store_read_per_s": n / t_store,
        f"{name}_dataset_item_per_s": n / t_ds,
        f"{name}_raw_read_per_s": n / t_raw,
        f"{name}_store_vs_raw": t_raw / t_store,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ntu-files", type=int, default=600)
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    res: dict[str, float | int | str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ucla = SHARED / "nw_ucla" / "all_sqe"
        if ucla.is_dir():
            res.update(measure("nw_ucla", "nw-ucla", ucla, work, args.sample, args.workers))
        raw = work / "ntu_raw"
        generate(raw, args.ntu_files)
        res.update(measure("ntu_synth", "ntu60", raw, work, args.sample, args.workers))
    res = {k: round(v, 2) if isinstance(v, float) else v for k, v in res.items()}
    res["workers"] = args.workers
    print(json.dumps(res))


if __name__ == "__main__":
    main()

"""Throughput of the S2I encoder vs a naive loop and vs the memory-bandwidth bound, in one run.

Batch: 256 sequences x 100 frames x 25 joints (NTU format, up to 2 persons, most sequences with one)
-> 256 images of 3 x 224 x 224 float32. Measured here, in this process:
- numpy: ``s2i.encode.encode`` on a NumPy batch (NumPy in, NumPy out);
- torch: ``S2IEncoder`` on a CPU tensor, fresh output (as a loader would call it) and into a
  preallocated output (``out=``);
- naive: ``s2i.testing.reference.encode_reference`` (Python loops per sequence, frame and row) on a
  subset of the batch, scaled per sequence;
- copy bound: a plain copy of the same number of output bytes, into fresh memory (``clone``) and
  into preallocated memory (``copy_``) — nothing that writes the images can be faster.
- cuda (when a GPU is present): the same encoder on the GPU, vs a device-to-device copy.
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from s2i import __version__
from s2i.encode import S2IConfig, S2IEncoder, encode
from s2i.testing.reference import encode_reference


def batch(n: int, t: int, seed: int = 0) -> np.ndarray:
    """Synthetic NTU-like motion (n, 2, t, 25, 3); 80 % of sequences have only one person."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.3, size=(1, 1, 1, 25, 3)).astype(np.float32) + np.array([0, 0, 3], np.float32)
    phase = np.linspace(0, 2 * np.pi, t, dtype=np.float32)[None, None, :, None, None]
    amp = rng.uniform(0.05, 0.3, size=(n, 2, 1, 25, 3)).astype(np.float32)
    x = base + amp * np.sin(phase + rng.uniform(0, 6, size=(n, 2, 1, 25, 1)).astype(np.float32))
    x[:, 1] += np.array([0.8, 0, 0], np.float32)
    x[rng.random(n) < 0.8, 1] = np.nan
    return x.astype(np.float32)


def best(fn, repeat: int) -> float:
    """Best of ``repeat`` timed calls after one warm-up (the least disturbed measurement)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--naive-n", type=int, default=4, help="sequences the naive loop encodes (it is slow)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    x = batch(args.n, args.frames)
    cfg = S2IConfig(height=args.size, width=args.size, range_lo=(-1, -1, -1), range_hi=(1, 1, 1))
    enc = S2IEncoder("ntu25", cfg)
    xt = torch.from_numpy(x)
    out = torch.empty(args.n, 3, args.size, args.size)
    res: dict[str, float | str | int | None] = {}
    with torch.inference_mode():
        t_np = best(lambda: encode(x, "ntu25", cfg), args.repeat)
        t_torch = best(lambda: enc(xt), args.repeat)
        t_torch_pre = best(lambda: enc(xt, out=out), args.repeat)
        t_matmul = best(lambda: enc(xt, out=out, method="matmul"), max(1, args.repeat // 2))
    # naive loop on a subset, scaled per sequence
    k = min(args.naive_n, args.n)
    t0 = time.perf_counter()
    ref = encode_reference(x[:k], "ntu25", cfg)
    t_naive = (time.perf_counter() - t0) / k * args.n
    np.testing.assert_allclose(ref, encode(x[:k], "ntu25", cfg), atol=1e-5)  # same numbers
    src = torch.rand(args.n, 3, args.size, args.size)
    dst = torch.empty_like(src)
    t_clone = best(lambda: src.clone(), args.repeat)
    t_copy = best(lambda: dst.copy_(src), args.repeat)
    out_bytes = src.numel() * 4
    res.update(
        device=f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        batch=args.n, frames=args.frames, image=args.size,
        numpy_per_s=args.n / t_np,
        torch_per_s=args.n / t_torch,
        torch_prealloc_per_s=args.n / t_torch_pre,
        torch_matmul_prealloc_per_s=args.n / t_matmul,
        naive_per_s=args.n / t_naive,
        naive_measured_on=k,
        copy_fresh_per_s=args.n / t_clone,
        copy_prealloc_per_s=args.n / t_copy,
        copy_fresh_gb_s=out_bytes / t_clone / 1e9,
        copy_prealloc_gb_s=out_bytes / t_copy / 1e9,
        speedup_vs_naive=t_naive / t_torch,
        numpy_speedup_vs_naive=t_naive / t_np,
        fraction_of_copy_bound=t_clone / t_torch,
        fraction_of_copy_bound_prealloc=t_copy / t_torch_pre,
    )
    if torch.cuda.is_available():
        dev = torch.device("cuda")
        genc = S2IEncoder("ntu25", cfg).to(dev)
        xg = xt.to(dev)
        gsrc = src.to(dev)
        def sync(fn):
            def run():
                fn()
                torch.cuda.synchronize()
            return run
        with torch.inference_mode():
            t_gpu = best(sync(lambda: genc(xg)), args.repeat * 2)
        t_gcopy = best(sync(lambda: gsrc.clone()), args.repeat * 2)
        res.update(cuda_device=torch.cuda.get_device_name(0), cuda_per_s=args.n / t_gpu,
                   cuda_copy_per_s=args.n / t_gcopy, cuda_fraction_of_copy_bound=t_gcopy / t_gpu,
                   cuda_speedup_vs_cpu_torch=t_torch / t_gpu)
    res["torch"] = torch.__version__
    res["s2i"] = __version__
    for key, val in res.items():
        if isinstance(val, float):
            res[key] = round(val, 3)
    print(f"encoder: {res['torch_per_s']} seq/s (numpy {res['numpy_per_s']}), naive {res['naive_per_s']} seq/s,"
          f" copy bound {res['copy_fresh_per_s']} seq/s")
    print(json.dumps(res))


if __name__ == "__main__":
    main()

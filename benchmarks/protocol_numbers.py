"""The numbers of every protocol on a tiny synthetic store with fixed seeds, as JSON (a before/after check).

Runs linear (two seeds, augmented copies and test-time crops, a validation carve; random init per seed),
kNN (two streams fused in the run, random init per seed), fine-tune (a tiny budget, a validation carve),
semi-supervised (linear and kNN) and late fusion of two runs made apart, each into OUT/<name>/. Prints
each results.json without what differs between two runs of the same code (run ids, times, host, paths,
commit), its test scores as a digest of the tensors (the file's sha256 also covers its header, whose key
order safetensors does not fix). Two versions of the code that print the same JSON computed the same
numbers::

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/protocol_numbers.py /tmp/numbers > numbers.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

#: keys whose values differ between two runs of the same code (or between two output folders)
VOLATILE = {"run_id", "environment", "git", "wall_time_s", "wall_s", "runs_wall_time_s", "device", "path",
            "store", "cache_dir", "cached", "results_sha256", "scores_sha256", "saved_from", "version"}
TINY_VIT = {"depth": 1, "embed_dim": 48, "num_heads": 2}

#: name -> (protocol, --set overrides); each runs on the limb-action store
RUNS: dict[str, tuple[str, list[str]]] = {
    "linear": ("linear", ["seeds=[0,1]", "linear.epochs=30", "linear.batch_size=16", "linear.val_fraction=0.25",
                          "linear.augmented_copies=2", "linear.augment.rotate=15", "linear.temporal_crop=[0.6,1.0]",
                          "linear.test_crops=2"]),
    "linear-random": ("linear", ["seeds=[0,1]", "init=random", "linear.epochs=10", "linear.batch_size=16",
                                 "linear.augmented_copies=1", "linear.temporal_crop=[0.6,1.0]"]),
    "knn": ("knn", ["seeds=[4,5]", "init=random", "knn.ks=[1,5]", "streams=[joint,motion]"]),
    "finetune": ("finetune", ["seeds=[0]", "finetune.epochs=2", "finetune.batch_size=16", "finetune.base_lr=0.3",
                              "finetune.warmup_epochs=1", "finetune.val_fraction=0.25", "finetune.select=val"]),
    "semi-linear": ("semi", ["semi.fraction=0.5", "semi.method=linear", "seeds=[0,1]", "linear.epochs=20",
                             "linear.batch_size=16"]),
    "semi-knn": ("semi", ["semi.fraction=0.5", "semi.method=knn", "seeds=[2]", "knn.ks=[1,3]"]),
    "joint": ("linear", ["linear.epochs=20", "linear.batch_size=16", "streams=[joint]"]),
    "bone": ("linear", ["linear.epochs=20", "linear.batch_size=16", "streams=[bone]"]),
}


def stable(value: Any) -> Any:
    """``value`` without the keys of :data:`VOLATILE`, at any depth."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def tensors_sha256(path: Path) -> str:
    """sha256 of every tensor of a safetensors file (name, dtype, shape, bytes), in name order."""
    import hashlib

    from safetensors.torch import load_file

    h = hashlib.sha256()
    for name, t in sorted(load_file(str(path)).items()):
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def numbers_of(folder: Path) -> dict[str, Any]:
    """The stable content of ``folder/results.json``, its test scores as :func:`tensors_sha256`."""
    result = stable(json.loads((folder / "results.json").read_text()))
    result["scores"] = {"tensors_sha256": tensors_sha256(folder / "scores.safetensors")}
    return result


def main(out: Path) -> dict[str, Any]:
    """Write the store, the encoder and every run below ``out``; the stable content of each results.json."""
    from s2i.encode import S2IConfig
    from s2i.evaluation.baseline import export_random_encoder
    from s2i.evaluation.config import load_eval_config
    from s2i.evaluation.fusion import fuse_runs
    from s2i.evaluation.protocols import run_protocol
    from s2i.testing.actions import write_limb_action_store

    store = write_limb_action_store(out / "store")
    enc = export_random_encoder(out / "enc", [store], S2IConfig(height=32, width=32, persons="first"),
                                patch_size=8, backbone_kwargs=TINY_VIT, seed=0)
    numbers = {}
    for name, (protocol, sets) in RUNS.items():
        cfg = load_eval_config(None, [f"cache_dir={out / 'cache'}", "finetune.accelerator=cpu", *sets])
        run_protocol(protocol, enc, store.path, out / name, config=cfg, progress=False)
        numbers[name] = numbers_of(out / name)
    fuse_runs([out / "joint", out / "bone"], out / "fused", [2.0, 1.0])
    numbers["fused"] = numbers_of(out / "fused")
    return numbers


if __name__ == "__main__":
    if len(sys.argv) != 2 or Path(sys.argv[1]).exists():
        sys.exit("usage: protocol_numbers.py OUT (a folder that does not exist yet)")
    print(json.dumps(main(Path(sys.argv[1])), indent=1, sort_keys=True))

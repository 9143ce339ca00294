"""Make a bundled encoder (``s2i/bundled/<name>/``, :mod:`s2i.models.bundled`) from a pretraining run.

:func:`stage_bundle` writes the run's exported encoder with bf16 weights (the file that ships, and the one the
evaluations measure); :func:`make_bundle` adds ``bundle.json`` (the training data with its splits, the run's
config, steps, hashes, the command that regenerates it, and a summary of the results with their protocol) and
the model card, after refusing a run whose pretraining saw a test sequence of any store it reports on
(:func:`check_reports`) and results measured on other weights. ``benchmarks/bundle.py`` runs the whole thing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from .evaluation.record import CheckpointInfo, RunRecord
from .models.bundled import BUNDLE_FILE, bundle_info
from .models.export import META, WEIGHTS, export_files, read_export_meta, write_model_card

__all__ = ["BUNDLE_VERSION", "check_reports", "make_bundle", "stage_bundle", "summarize_results",
           "training_data"]

BUNDLE_VERSION = 1


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def _provenance(run: Path) -> dict[str, Any]:
    f = run / "provenance.json"
    try:
        prov = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{run}: not a finished pretraining run (cannot read provenance.json: {e})") from None
    if not isinstance(prov, dict) or not isinstance(prov.get("stores"), list) or not prov["stores"]:
        raise ValueError(f"{f}: names no pretraining stores; cannot tell what the encoder was trained on")
    return prov


def training_data(run: str | Path) -> list[dict[str, Any]]:
    """What a run pretrained on, from its provenance.json: one entry per store (path, data set, format,
    split, the subset used (``train``; every sequence for a store without splits), sequences, content hash)."""
    from .store import SkeletonStore

    out = []
    for s in _provenance(Path(run))["stores"]:
        dataset = None
        with contextlib.suppress(OSError, ValueError):  # the store moved: its content hash still identifies it
            dataset = SkeletonStore(s["path"]).manifest.get("dataset")
        out.append({"path": s.get("path"), "dataset": dataset, "format": s.get("format"), "split": s.get("split"),
                    "subset": "train" if s.get("split") else "every sequence (the store has no splits)",
                    "items": s.get("items"), "content_hash": s.get("content_hash")})
    return out


def check_reports(run: str | Path, reports: Iterable[tuple[str | Path, str]]) -> None:
    """Refuse (ValueError) a run whose pretraining used a sequence that a reported (store, split) tests.

    Each reported store is matched to the run's pretraining stores by content hash: the pretraining ids
    (its split's ``train`` part, or every sequence) must not meet the reported split's ``test`` part. A store
    of a data set the run pretrained on under another content hash cannot be checked, and is refused too.
    """
    from .store import SkeletonStore

    run = Path(run)
    trained = training_data(run)
    for path, split in reports:
        store = SkeletonStore(path)
        test = set(store.split_ids(split, "test").tolist())
        digest, dataset = store.manifest.get("content_hash"), store.manifest.get("dataset")
        for t in trained:
            if t["content_hash"] == digest:
                used = store.split_ids(t["split"], "train" if t["split"] else None)
                seen = test.intersection(used.tolist())
                if seen:
                    raise ValueError(f"{run}: pretrained on {len(seen)} sequence(s) that {store.path} split {split!r}"
                                     f" tests (pretraining used split {t['split']!r}, {t['subset']}); a bundle never"
                                     " reports on data its encoder was trained on")
            elif dataset is not None and t["dataset"] == dataset:
                raise ValueError(f"{run}: pretrained on a store of {dataset!r} ({t['path']}, {t['content_hash']})"
                                 f" other than the reported {store.path} ({digest}): cannot check that its test"
                                 f" split {split!r} was unseen; report on the store the run pretrained on")


def stage_bundle(run: str | Path, out: str | Path) -> Path:
    """Write ``out/``: the run's exported encoder (config.json) with its weights in bf16 (model.safetensors)
    and a model card. Returns ``out``; an existing ``out`` must be a staged bundle (it is replaced)."""
    import torch
    from safetensors.torch import load_file, save_file

    from .atomic import atomic_path

    meta_file, weights = export_files(run)
    read_export_meta(meta_file.parent)  # an unfinished run (no encoder/) says so here
    out = Path(out)
    if out.exists() and not (out / META).is_file():
        raise ValueError(f"{out} exists and is not a staged encoder folder; s2i never writes into it")
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in load_file(str(weights)).items()}
    with atomic_path(out / WEIGHTS) as tmp:
        # one metadata key: safetensors writes several in a random order, and the file's hash must be stable
        save_file(tensors, str(tmp), metadata={"backbone": read_export_meta(meta_file.parent)["backbone"]})
    with atomic_path(out / META) as tmp:
        tmp.write_text(meta_file.read_text(encoding="utf-8"), encoding="utf-8")
    (out / BUNDLE_FILE).unlink(missing_ok=True)  # a staged folder has results only once make_bundle checks them
    write_model_card(out)
    return out


def _protocol(r: RunRecord) -> str:
    """The protocol of one result in a few words, with the options a reader must know."""
    hp = r.hyperparameters
    pooling = hp.pooling or "mean"
    if r.protocol == "knn":
        knn = hp.knn or {}
        k = knn.get("report_k") or max(knn.get("ks") or [0])
        return (f"kNN (cosine, temperature {knn.get('temperature')}), k = {k}, frozen {r.stream} features,"
                f" {pooling}-pooled")
    if r.protocol == "linear":
        lin = hp.linear or {}
        return (f"linear probe on frozen {r.stream} features ({pooling}-pooled): BN + linear,"
                f" SGD lr {lin.get('base_lr')} x batch/256, {lin.get('epochs')} epochs, last epoch, 1 test view")
    return r.protocol


def summarize_results(results: Iterable[RunRecord]) -> list[dict[str, Any]]:
    """One row per result: data set, split, protocol (in words), weights, top-1 mean and std over its seeds,
    the seeds, the test samples n and the 95 % Wilson interval of the mean on n."""
    from .evaluation.metrics import top1_interval
    from .evaluation.results import pool_top1

    rows = []
    for r in results:
        agg = pool_top1([r])  # the one pooling of seeds, as in every results table
        n = int(r.num_test_samples or 0)
        lo, hi = top1_interval(agg.mean, n)
        rows.append({"dataset": r.dataset, "split": r.split, "format": r.data.format, "protocol": r.protocol,
                     "protocol_text": _protocol(r), "init": r.init,
                     "top1": round(float(agg.mean), 2), "std": round(float(agg.std), 2),
                     "seeds": [int(s) for s in r.seeds], "n": n,
                     "wilson95": [round(lo, 1), round(hi, 1)]})
    order = {"linear": 0, "knn": 1}
    return sorted(rows, key=lambda x: (str(x["dataset"]), order.get(str(x["protocol"]), 9),
                                       str(x["init"]) != "pretrained"))


def _check_results(folder: Path, results: Sequence[RunRecord]) -> None:
    """Every pretrained result measured these weights; every random one this architecture."""
    digest = _sha256(folder / WEIGHTS)
    meta = read_export_meta(folder)
    for r in results:
        ckpt = r.checkpoint or CheckpointInfo()
        if r.init == "pretrained" and r.checkpoint_hash != digest:
            raise ValueError(f"a {r.protocol} result on {r.dataset} measured weights"
                             f" {r.checkpoint_hash}, not the bundled {digest}: evaluate the staged folder")
        if r.init == "random" and (ckpt.backbone, ckpt.backbone_kwargs) != \
                (meta["backbone"], meta.get("backbone_kwargs", {})):
            raise ValueError(f"a random-init {r.protocol} result on {r.dataset} is of another"
                             f" architecture ({ckpt.backbone} {ckpt.backbone_kwargs})")


def make_bundle(staged: str | Path, run: str | Path, dest: str | Path, results: Sequence[RunRecord],
                command: str, name: str | None = None) -> Path:
    """Check and install the staged folder (:func:`stage_bundle`) as bundle ``dest`` (its name: ``name`` or
    the folder's): refused when ``run`` pretrained on a test sequence of a reported store, or a pretrained
    result measured other weights; writes bundle.json and the model card, then replaces ``dest`` whole (only
    when it is a bundle itself). ``results``: the evaluations' records; ``command``: what regenerates the bundle."""
    staged, run, dest = Path(staged), Path(run), Path(dest)
    if not results:
        raise ValueError("a bundle needs evaluation results (do not bundle a model you did not evaluate)")
    check_reports(run, [(r.data.store or "?", str(r.split)) for r in results])
    _check_results(staged, results)
    prov = _provenance(run)
    config_file = run / "config.yaml"
    try:
        config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"{config_file}: cannot read the run's config ({e})") from None
    meta = read_export_meta(staged)
    data = training_data(run)
    info = {"kind": "s2i-bundle", "version": BUNDLE_VERSION, "name": name or dest.name,
            "trained_on": data, "steps": (meta.get("info") or {}).get("step"),
            "schedule": prov.get("schedule"), "final_loss": (meta.get("info") or {}).get("final_loss"),
            "device": prov.get("device"), "config": config,
            "hashes": {"weights": _sha256(staged / WEIGHTS), "config_json": _sha256(staged / META),
                       "run_config": _sha256(config_file), "stores": {str(d["path"]): d["content_hash"] for d in data}},
            "pretrain_command": " ".join(["s2i", *map(str, (prov.get("command") or [])[1:])]),
            "command": command, "results": summarize_results(results)}
    with (staged / BUNDLE_FILE).open("w", encoding="utf-8") as f:
        f.write(json.dumps(info, indent=1) + "\n")
    write_model_card(staged, name=info["name"])
    _install(staged, dest)
    return dest


def _install(staged: Path, dest: Path) -> None:
    """Replace ``dest`` by a copy of ``staged``'s bundle files, swapped in whole (never a half-written bundle)."""
    if dest.exists() and bundle_info(dest) is None:
        raise ValueError(f"{dest} exists and is not a bundled encoder; s2i never replaces a folder that is not its own")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would make the installed bundle unreadable to other users
    try:
        for f in (META, WEIGHTS, "README.md", BUNDLE_FILE):
            shutil.copy2(staged / f, tmp / f)
        old = dest.with_name(f".{dest.name}.old")
        if old.exists() and bundle_info(old) is not None:  # left by an install that was killed mid-swap
            shutil.rmtree(old)
        if dest.exists():
            dest.rename(old)
        tmp.rename(dest)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)

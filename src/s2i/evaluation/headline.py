"""The README's headline table: committed result files against published anchors, rebuilt by one command.

``s2i results --readme DIR`` prints it from every ``results.json`` below DIR (one folder per run, small
copies made by :func:`save_trimmed`, i.e. ``s2i results RUN... --save DIR/<data set>``) and the published
numbers in ``DIR/anchors.yaml``, each with the protocol it was measured under. ``tests/test_readme.py``
checks that the README's table, between the ``results-table`` markers, is exactly what the command prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..atomic import atomic_path
from .metrics import wilson_interval
from .results import RESULTS_FILE, check_distinct, load_results, pool_top1, seeds_varied

__all__ = ["ANCHORS_FILE", "MAX_RESULT_BYTES", "Anchor", "headline_table", "load_anchors", "save_trimmed",
           "trim_result"]

ANCHORS_FILE = "anchors.yaml"
#: a committed result file stays below this size; larger ones lose these keys, in this order, until they fit
MAX_RESULT_BYTES = 32_000
TRIMMABLE = ("training", "confusion_matrix", "per_class_top1", "streams", "class_names")
_ORDER = ("linear", "knn", "finetune", "semi", "transfer", "cross-format")


@dataclass(frozen=True)
class Anchor:
    """One published number: who, on which data set and split, under which protocol, and what of ours it
    compares with like for like (``compare_with``), or why nothing does."""

    dataset: str
    split: str
    method: str
    top1: float
    protocol: str
    compare_with: str


def load_anchors(folder: str | Path) -> tuple[dict[str, dict[str, Any]], list[Anchor]]:
    """``DIR/anchors.yaml``: data sets (``name: {title, test}``: display name, official test sequences of
    the split the anchors use) and the anchors; a missing file is no anchors."""
    f = Path(folder) / ANCHORS_FILE
    if not f.is_file():
        return {}, []
    try:
        raw = yaml.safe_load(f.read_text()) or {}
        names = {str(k): {"title": str(v["title"]), "test": int(v["test"]) if v.get("test") else None}
                 for k, v in (raw.get("datasets") or {}).items()}
        anchors = [Anchor(str(a["dataset"]), str(a["split"]), str(a["method"]), float(a["top1"]),
                          str(a["protocol"]), str(a["compare_with"])) for a in raw.get("anchors") or []]
    except (yaml.YAMLError, AttributeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{f}: not an anchors file (datasets: {{name: {{title, test}}}}, anchors: [{{dataset, split,"
                         f" method, top1, protocol, compare_with}}]): {e}") from None
    return names, anchors


def trim_result(result: dict[str, Any], max_bytes: int = MAX_RESULT_BYTES) -> dict[str, Any]:
    """A copy of a loaded result small enough to commit: the loader's own keys dropped and, while the JSON is
    over ``max_bytes``, the bulky per-epoch / per-class keys of :data:`TRIMMABLE` (named in ``trimmed``).
    Metrics, seeds, hyper-parameters, config, hashes, commit and run id always stay."""
    out = {k: v for k, v in result.items() if not k.startswith("_")}
    trimmed = []
    for key in TRIMMABLE:
        if len(json.dumps(out, indent=1)) <= max_bytes:
            break
        if key in out:
            trimmed.append(key)
            del out[key]
    if trimmed:
        out["trimmed"] = trimmed
    return out


def save_trimmed(runs: list[str | Path], dest: str | Path) -> list[Path]:
    """Copy each run's results.json, trimmed (:func:`trim_result`), to ``dest/<run folder name>/results.json``;
    an existing copy is never replaced (an error names it). The copy names its source file and its sha256."""
    written = []
    results = load_results(list(runs))
    check_distinct(results)
    for r in results:
        src = Path(r["_path"])
        target = Path(dest) / src.parent.name / RESULTS_FILE
        if target.exists():
            raise FileExistsError(f"{target}: a saved result is already there; remove it yourself to replace it")
        small = {**trim_result(r), "saved_from": {"path": str(src), "sha256": "sha256:" + r["_sha256"]}}
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            tmp.write_text(json.dumps(small, indent=1) + "\n")
        written.append(target)
    return written


def _knn_top1(r: dict[str, Any], k: int) -> list[float] | None:
    """Per-seed top-1 of a kNN run at ``k`` (from ``training.knn_top1``; None when k was not run)."""
    per_stream = ((r.get("training") or {}).get("knn_top1") or {}).get(str(r.get("stream")))
    if not isinstance(per_stream, list) or not all(str(k) in d for d in per_stream):
        return None
    return [float(d[str(k)]) for d in per_stream]


def _protocol_rows(r: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(protocol label, result) rows of one run: kNN at k = 1 and at its reported k; the rest one row,
    labelled with every option a reader must know (augmented copies, test-time crops)."""
    hp = r.get("hyperparameters") or {}
    name = str(r["protocol"])
    if name == "knn":
        knn = hp.get("knn") or {}
        ks = [int(k) for k in knn.get("ks") or []]
        report = int(knn.get("report_k") or (max(ks) if ks else 0))
        rows = []
        for k in sorted({1, report}):
            top1s = _knn_top1(r, k) if k != report else [s["top1"] for s in r.get("per_seed") or []] or [r["top1"]]
            if top1s:
                rows.append((f"kNN (cosine), k = {k}, frozen features",
                             {**r, "per_seed": [{"top1": t} for t in top1s], "top1_seeds": None}))
        return rows
    label = {"linear": "linear probe, frozen features", "finetune": "fine-tune"}.get(name, name)
    if name == "semi" and isinstance(hp.get("semi"), dict):
        label = f"semi-supervised {100 * float(hp['semi'].get('fraction', 0)):g} % ({hp.get('method')})"
    found = hp.get(str(hp.get("method")))
    method_cfg: dict[str, Any] = found if isinstance(found, dict) else {}
    if int(method_cfg.get("augmented_copies") or 0):
        label += f", {method_cfg['augmented_copies']} augmented training copies"
    crops = int(method_cfg.get("test_crops") or 0)
    label += f", 1 view + {crops} test-time crops (TTA: not the headline protocol)" if crops else ", 1 test view"
    return [(label, r)]


def _interval(top1: float, n: int | None) -> str:
    if not n:
        return ""
    lo, hi = wilson_interval(top1 / 100 * n, n)
    return f"{100 * lo:.1f}–{100 * hi:.1f}"


def headline_table(folder: str | Path) -> str:
    """The README's results table (Markdown) from the result files below ``folder`` and its anchors."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder of result files")
    names, anchors = load_anchors(root)
    results = load_results(sorted(root.rglob(RESULTS_FILE)))
    check_distinct(results)
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for r in results:
        for label, row in _protocol_rows(r):
            groups.setdefault((str(r["dataset"]), str(r["split"]), label, str(r.get("method") or r.get("init"))),
                              []).append(row)
    datasets = sorted({(d, s) for d, s, _, _ in groups} | {(a.dataset, a.split) for a in anchors})
    lines = ["| data set, split (n test) | protocol | encoder | top-1 % | 95 % interval | seeds | source |",
             "|---|---|---|---|---|---|---|"]
    for ds, split in datasets:
        ours = sorted(((k, v) for k, v in groups.items() if k[:2] == (ds, split)),
                      key=lambda kv: (_ORDER.index(kv[1][0]["protocol"]) if kv[1][0]["protocol"] in _ORDER
                                      else len(_ORDER), kv[0][2], kv[0][3]))
        info = names.get(ds) or {"title": ds, "test": None}
        ns = {pool_top1(v)["n"] for _, v in ours} or {info["test"]}
        n = next(iter(ns)) if len(ns) == 1 else None
        first = f"{info['title']} {split}" + (f" ({n})" if n else "")
        for i, ((_, _, label, method), runs) in enumerate(ours):
            where = "" if i else first
            pooled = pool_top1(runs)
            cell = f"{pooled['mean']:.1f}" + (f" ± {pooled['std']:.1f}" if pooled["seeds"] > 1 else "")
            files = sorted(str(Path(r["_path"]).parent.relative_to(root)) for r in runs)
            source = f"`{files[0]}`" + (f" (+{len(files) - 1})" if len(files) > 1 else "")
            lines.append(f"|{f' {where} ' if where else ' '}| {label} | {method} | {cell}"
                         f" | {_interval(pooled['mean'], pooled['n'])}"
                         f" | {seeds_varied(pooled) or '1 seed'} | {source} |")
        if not ours:
            lines.append(f"| {first} | | s2i | no committed result file yet | | | docs/results.md |")
        for a in (a for a in anchors if (a.dataset, a.split) == (ds, split)):
            lines.append(f"| | {a.protocol} | {a.method} | {a.top1:.1f} | {_interval(a.top1, n)} | |"
                         f" published; compare with our {a.compare_with} |")
    note = ("Top-1 % on the whole official test set, last epoch; ± : std over the seeds named (1 checkpoint: probe or"
            " fine-tune seeds; several: pretraining seeds too); interval: 95 % Wilson interval on n test sequences,"
            " the spread the test set alone allows (published numbers: on the same n). Source: the folder of the"
            f" results.json, under the folder the table was built from; published numbers: its `{ANCHORS_FILE}`.")
    return "\n".join(lines) + "\n\n" + note + "\n"

"""Committed result files and the table of all of them: small copies to commit, the published anchors, and
every committed result in one Markdown table (``docs/results.md``'s "All committed results").

``s2i results --table DIR`` prints that table from every ``results.json`` below DIR (one folder per run, small
copies made by :func:`save_trimmed`, i.e. ``s2i results RUN... --save DIR/<data set>``) and the published
numbers in ``DIR/anchors.yaml``, each with the protocol it was measured under. The README's short table of the
declared headline runs is :mod:`s2i.evaluation.headline_table`. ``tests/test_readme.py`` checks that both
documents hold exactly what their command prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..atomic import atomic_path
from .metrics import interval_text
from .record import SeedMetrics
from .results import RESULTS_FILE, RunRecord, check_distinct, load_results, pool_top1, seeds_varied

__all__ = ["ANCHORS_FILE", "MAX_RESULT_BYTES", "Anchor", "ProtocolRow", "all_results_table", "load_anchors",
           "protocol_rows", "save_trimmed", "trim_result"]

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


def trim_result(result: RunRecord, max_bytes: int = MAX_RESULT_BYTES) -> dict[str, Any]:
    """The JSON content of a result, small enough to commit: while it is over ``max_bytes``, the bulky
    per-epoch / per-class keys of :data:`TRIMMABLE` are dropped (named in ``trimmed``). Metrics, seeds,
    hyper-parameters, config, hashes, commit and run id always stay."""
    out = result.dump()
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
        assert r.path is not None  # read from a file
        target = Path(dest) / r.path.parent.name / RESULTS_FILE
        if target.exists():
            raise FileExistsError(f"{target}: a saved result is already there; remove it yourself to replace it")
        small = {**trim_result(r), "saved_from": {"path": str(r.path), "sha256": f"sha256:{r.sha256}"}}
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            tmp.write_text(json.dumps(small, indent=1) + "\n")
        written.append(target)
    return written


def _knn_top1(r: RunRecord, k: int) -> list[float] | None:
    """Per-seed top-1 of a kNN run at ``k`` (from ``training.knn_top1``; None when k was not run)."""
    per_seed = (r.training.knn_top1 or {}).get(r.stream)
    if not per_seed or not all(str(k) in d for d in per_seed):
        return None
    return [float(d[str(k)]) for d in per_seed]


@dataclass(frozen=True)
class ProtocolRow:
    """One table row of a run: its protocol label, the run (for kNN: a copy holding that k's per-seed top-1),
    and what a like-for-like anchor's ``compare_with`` starts with (None: no published protocol is like it)."""

    label: str
    result: RunRecord
    compare_key: str | None


def _knn_rows(r: RunRecord, ks: tuple[int, ...]) -> list[ProtocolRow]:
    """kNN at each of ``ks`` the run recorded, and at its reported k, each a copy of the run with that k's
    per-seed top-1."""
    _, report = r.hyperparameters.knn_ks
    rows = []
    for k in sorted({*ks, report}):
        top1s = _knn_top1(r, k) if k != report else r.seed_top1s
        if top1s:
            per_seed = [SeedMetrics(top1=t) for t in top1s]
            rows.append(ProtocolRow(f"kNN (cosine), k = {k}, frozen features",
                                    r.model_copy(update={"per_seed": per_seed, "top1_seeds": None}), f"kNN k = {k}"))
    return rows


def protocol_rows(r: RunRecord, knn_ks: tuple[int, ...] = (1,)) -> list[ProtocolRow]:
    """The rows of one run: kNN at each of ``knn_ks`` it recorded and at its reported k; the rest one row,
    labelled with every option a reader must know (augmented copies, test-time crops)."""
    hp = r.hyperparameters
    if r.protocol == "knn":
        return _knn_rows(r, knn_ks)
    label = {"linear": "linear probe, frozen features", "finetune": "fine-tune"}.get(r.protocol, r.protocol)
    if r.protocol == "semi" and hp.semi is not None:
        label = f"semi-supervised {100 * hp.semi_fraction:g} % ({hp.method})"
    if hp.augmented_copies:
        label += f", {hp.augmented_copies} augmented training copies"
    crops = hp.test_crops
    label += f", 1 view + {crops} test-time crops (TTA: not the headline protocol)" if crops else ", 1 test view"
    like = {"linear": "linear probe", "finetune": "fine-tune"}.get(r.protocol) if not crops else None
    return [ProtocolRow(label, r, like)]


Group = tuple[str, str, str, str]  # data set, split, protocol label, encoder (method)


def _groups(results: list[RunRecord]) -> dict[Group, list[RunRecord]]:
    """The rows of the table: the runs of each (data set, split, protocol label, encoder)."""
    groups: dict[Group, list[RunRecord]] = {}
    for r in results:
        for row in protocol_rows(r):
            groups.setdefault((str(r.dataset), r.split, row.label, str(r.method or r.init)), []).append(row.result)
    return groups


def protocol_order(protocol: str, label: str) -> tuple[int, str]:
    """Where a row stands in a table: linear, kNN, fine-tune, semi, transfer, cross-format, then by label."""
    return (_ORDER.index(protocol) if protocol in _ORDER else len(_ORDER)), label


def _order(item: tuple[Group, list[RunRecord]]) -> tuple[tuple[int, str], str]:
    return protocol_order(item[1][0].protocol, item[0][2]), item[0][3]


def _our_row(first: str, label: str, method: str, runs: list[RunRecord], root: Path) -> str:
    """One row of ours: the pooled top-1 of the runs, its interval, what varied and the source folders."""
    pooled = pool_top1(runs)
    cell = f"{pooled.mean:.1f}" + (f" ± {pooled.std:.1f}" if pooled.seeds > 1 else "")
    files = sorted(str(Path(str(r.path)).parent.relative_to(root)) for r in runs)
    source = f"`{files[0]}`" + (f" (+{len(files) - 1})" if len(files) > 1 else "")
    return (f"|{f' {first} ' if first else ' '}| {label} | {method} | {cell} | {interval_text(pooled.mean, pooled.n)}"
            f" | {seeds_varied(pooled) or '1 seed'} | {source} |")


def _dataset_rows(ds: str, split: str, groups: dict[Group, list[RunRecord]], names: dict[str, dict[str, Any]],
                  anchors: list[Anchor], root: Path) -> list[str]:
    """The rows of one data set and split: ours in protocol order, then the published anchors."""
    ours = sorted(((k, v) for k, v in groups.items() if k[:2] == (ds, split)), key=_order)
    info = names.get(ds) or {"title": ds, "test": None}
    ns = {pool_top1(v).n for _, v in ours} or {info["test"]}
    n = next(iter(ns)) if len(ns) == 1 else None
    first = f"{info['title']} {split}" + (f" ({n})" if n else "")
    lines = [_our_row("" if i else first, label, method, runs, root)
             for i, ((_, _, label, method), runs) in enumerate(ours)]
    if not ours:
        lines.append(f"| {first} | | s2i | no committed result file yet | | | docs/results.md |")
    lines += [f"| | {a.protocol} | {a.method} | {a.top1:.1f} | {interval_text(a.top1, n)} | |"
              f" published; compare with our {a.compare_with} |"
              for a in anchors if (a.dataset, a.split) == (ds, split)]
    return lines


def all_results_table(folder: str | Path) -> str:
    """Every committed result below ``folder`` against its anchors, one Markdown table (``s2i results --table``)."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder of result files")
    names, anchors = load_anchors(root)
    results = load_results(sorted(root.rglob(RESULTS_FILE)))
    check_distinct(results)
    groups = _groups(results)
    datasets = sorted({(d, s) for d, s, _, _ in groups} | {(a.dataset, a.split) for a in anchors})
    lines = ["| data set, split (n test) | protocol | encoder | top-1 % | 95 % interval | seeds | source |",
             "|---|---|---|---|---|---|---|"]
    for ds, split in datasets:
        lines += _dataset_rows(ds, split, groups, names, anchors, root)
    note = ("Top-1 % on the whole official test set, last epoch; ± : std over the seeds named (1 checkpoint: probe or"
            " fine-tune seeds; several: pretraining seeds too); interval: 95 % Wilson interval on n test sequences,"
            " the spread the test set alone allows (published numbers: on the same n). Source: the folder of the"
            f" results.json, under the folder the table was built from; published numbers: its `{ANCHORS_FILE}`.")
    return "\n".join(lines) + "\n\n" + note + "\n"

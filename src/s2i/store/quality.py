"""Data-quality report of a prepared store: counts per class and split, lengths, bodies, missing
joints, coordinate ranges, denoising decisions, and the comparison with the official counts."""

from __future__ import annotations

from typing import Any

import numpy as np

from .read import SkeletonStore

__all__ = ["quality_report", "report_markdown"]


def quality_report(store: SkeletonStore) -> dict[str, Any]:
    """Everything the report shows, as plain data (read from the index and manifest, not the frames)."""
    mf = store.manifest
    labels = store.labels
    classes = sorted(int(c) for c in np.unique(labels) if c >= 0)
    names = store.class_names or []
    per_class: dict[str, dict[str, int]] = {}
    splits: dict[str, dict[str, int]] = {}
    for split, parts in store.splits.items():
        splits[split] = {subset: len(ids) for subset, ids in parts.items()}
        for subset, ids in parts.items():
            n_classes = max(classes, default=-1) + 1
            counts: np.ndarray = np.bincount(labels[np.asarray(ids, dtype=np.int64)].clip(min=0),
                                             minlength=n_classes) if len(ids) else np.zeros(n_classes, np.int64)
            per_class[f"{split}/{subset}"] = {str(c): int(counts[c]) for c in classes}
    stats = mf.get("stats", {})
    report = {
        "store": str(store.path),
        "dataset": mf.get("dataset"),
        "format": store.format,
        "dtype": mf.get("dtype"),
        "content_hash": mf.get("content_hash"),
        "sequences": len(store),
        "classes": len(classes),
        "class_names": {str(c): names[c] for c in classes if c < len(names)},
        "splits": splits,
        "per_class": per_class,
        "length": stats.get("length"),
        "length_histogram": stats.get("length_histogram"),
        "persons_per_sequence": stats.get("persons_per_sequence"),
        "coordinate_min": stats.get("coordinate_min"),
        "coordinate_max": stats.get("coordinate_max"),
        "missing_joint_fraction": stats.get("missing_joint_fraction"),
        "zero_joint_fraction": stats.get("zero_joint_fraction"),
        "denoising_decisions": stats.get("denoising_decisions"),
        "denoising_sequences": stats.get("denoising_sequences"),
        "denoising_modes": stats.get("denoising_modes"),
        "value_ranges": stats.get("value_ranges"),
        "counts": mf.get("counts"),
    }
    prep = store.path / "report.json"
    if prep.is_file():
        import json
        r = json.loads(prep.read_text())
        report["prepare"] = {"files": r.get("files"), "failed": len(r.get("failed", [])),
                             "excluded": len([k for k in r.get("excluded", {}) if not k.startswith("(")]),
                             "count_mismatches": r.get("count_mismatches", [])}
    return report


def _md_header(rep: dict[str, Any], joint_names: list[str] | None) -> list[str]:
    """Title, store, format, hash, sizes, and what prepare read, failed and found against the official counts."""
    lines = [f"# Data-quality report: {rep['dataset']}", "",
             f"- store: `{rep['store']}`", f"- format: {rep['format']} ({rep['dtype']})",
             f"- content hash: `{rep['content_hash']}`",
             f"- sequences: {rep['sequences']}, classes: {rep['classes']}", ""]
    prep = rep.get("prepare")
    if prep:
        lines += [f"- files read: {prep['files']}, failed: {prep['failed']}, excluded by design: {prep['excluded']}"]
        if prep["count_mismatches"]:
            lines += ["", "**COUNT MISMATCHES against the official numbers:**"]
            lines += [f"- {m}" for m in prep["count_mismatches"]]
        lines.append("")
    return lines


def _md_splits(rep: dict[str, Any], joint_names: list[str] | None) -> list[str]:
    """Sequences per split and subset beside the official number."""
    official = (rep.get("counts") or {}).get("official", {})
    lines = ["## Splits", "", "| split | subset | sequences | official |", "|---|---|---|---|"]
    for split, parts in rep["splits"].items():
        for subset, n in parts.items():
            off = official.get("splits", {}).get(split, {}).get(subset, "")
            lines.append(f"| {split} | {subset} | {n} | {off} |")
    return lines


def _md_classes(rep: dict[str, Any], joint_names: list[str] | None) -> list[str]:
    """Sequences per class, one column per split/subset."""
    keys = list(rep["per_class"])
    lines = ["", "## Sequences per class", "", "| class | name | " + " | ".join(keys) + " |",
             "|---" * (len(keys) + 2) + "|"]
    classes = sorted({int(c) for v in rep["per_class"].values() for c in v})
    for c in classes:
        row = [str(rep["per_class"][k].get(str(c), 0)) for k in keys]
        lines.append(f"| {c} | {rep['class_names'].get(str(c), '')} | " + " | ".join(row) + " |")
    return lines


def _md_lengths(rep: dict[str, Any], joint_names: list[str] | None) -> list[str]:
    """Length summary and histogram, bodies per sequence, coordinate range."""
    ln = rep.get("length") or {}
    lines = ["", "## Lengths (frames)", "", ", ".join(f"{k} {v:g}" for k, v in ln.items())]
    hist = rep.get("length_histogram") or {}
    if hist.get("counts"):
        e = hist["edges"]
        lines += [""] + [f"- {e[i]:g}–{e[i + 1]:g}: {n}" for i, n in enumerate(hist["counts"])]
    bodies = rep.get("persons_per_sequence") or {}
    lines += ["", "## Bodies per sequence", "", ", ".join(f"{k}: {v}" for k, v in bodies.items())]
    lines += ["", "## Coordinates", "", f"min {rep.get('coordinate_min')}, max {rep.get('coordinate_max')}"]
    return lines


def _md_missing(rep: dict[str, Any], joint_names: list[str] | None) -> list[str]:
    """The joints ever missing or all-zero, by name where known."""
    miss, zero = rep.get("missing_joint_fraction") or [], rep.get("zero_joint_fraction") or []
    if not (miss and (max(miss) > 0 or max(zero or [0]) > 0)):
        return ["", "No missing or all-zero joints."]
    lines = ["", "## Missing / all-zero joints (fraction of present person-frames)", "",
             "| joint | missing | zero |", "|---|---|---|"]
    for j, (a, b) in enumerate(zip(miss, zero)):
        if a or b:
            name = joint_names[j] if joint_names and j < len(joint_names) else str(j)
            lines.append(f"| {name} | {a:.4f} | {b:.4f} |")
    return lines


def _md_denoising(rep: dict[str, Any], joint_names: list[str] | None) -> list[str]:
    """The denoising mode and how often each rule decided, in how many sequences."""
    dec = rep.get("denoising_decisions") or {}
    seqs = rep.get("denoising_sequences") or {}
    modes = rep.get("denoising_modes") or {}
    lines = ["", "## Denoising decisions", ""]
    if modes:
        lines += ["mode: " + ", ".join(f"{k} ({v} sequences)" for k, v in modes.items()), ""]
    if not dec:
        return [*lines, "none"]
    return [*lines, "| rule | sequences | decisions |", "|---|---|---|",
            *(f"| {k} | {seqs.get(k, '')} | {v} |" for k, v in sorted(dec.items()))]


#: the page's sections, in order
_SECTIONS = (_md_header, _md_splits, _md_classes, _md_lengths, _md_missing, _md_denoising)


def report_markdown(rep: dict[str, Any], joint_names: list[str] | None = None) -> str:
    """The report as a readable Markdown page."""
    return "\n".join(line for section in _SECTIONS for line in section(rep, joint_names)) + "\n"

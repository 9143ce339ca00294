"""What a report is made from: the pretraining run, the evaluation results and the store, found from RUN.

RUN is a pretraining run folder (it holds ``provenance.json``) or a folder holding one as ``pretrain/``
(a demo folder); every ``results.json`` below RUN is an evaluation result (e.g.
``eval/<protocol>-<init>/results.json``). The store is ``--data``, else the first store the run was
trained on (``provenance.json``), else the store the first evaluation result names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..evaluation.record import RunRecord

__all__ = ["RunInputs", "discover", "find_results"]


@dataclass
class RunInputs:
    """The inputs of a report; absent ones are None / empty, with a note saying why."""

    root: Path
    pretrain: Path | None = None
    provenance: dict[str, Any] | None = None
    config_text: str | None = None
    results: list[RunRecord] = field(default_factory=list)
    result_errors: list[str] = field(default_factory=list)  # one line per unreadable results.json
    store: Path | None = None
    store_source: str = ""
    notes: list[str] = field(default_factory=list)


def find_results(root: Path, skip: tuple[Path, ...] = ()) -> tuple[list[RunRecord], list[str]]:
    """Every readable results.json below ``root`` (sorted by path), and the error of each broken one (a
    broken file is listed instead of stopping the report)."""
    from ..evaluation.record import load_record

    found, errors = [], []
    for f in sorted(root.rglob("results.json")):
        if any(f.is_relative_to(s) for s in skip):
            continue
        try:
            found.append(load_record(f))
        except ValueError as e:
            errors.append(str(e))
    return found, errors


def _pretrain_folder(root: Path) -> Path | None:
    for cand in (root, root / "pretrain"):
        if (cand / "provenance.json").is_file():
            return cand
    return None


def discover(run: str | Path, data: str | Path | None = None, skip: tuple[Path, ...] = ()) -> RunInputs:
    """Find the inputs of a report under ``run`` (see the module docstring)."""
    root = Path(run)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such run folder")
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder (pass a pretraining run folder or a folder holding pretrain/)")
    inp = RunInputs(root=root)
    inp.pretrain = _pretrain_folder(root)
    if inp.pretrain is not None:
        try:
            inp.provenance = json.loads((inp.pretrain / "provenance.json").read_text())
        except ValueError as e:
            raise ValueError(f"{inp.pretrain / 'provenance.json'}: not valid JSON ({e})") from None
        cfg = inp.pretrain / "config.yaml"
        inp.config_text = cfg.read_text() if cfg.is_file() else None
    inp.results, inp.result_errors = find_results(root, skip)
    if inp.pretrain is None and not inp.results:
        raise ValueError(f"{root}: neither a pretraining run (provenance.json, here or in pretrain/) nor any"
                         " results.json below it")
    _choose_store(inp, data)
    return inp


def _choose_store(inp: RunInputs, data: str | Path | None) -> None:
    if data is not None:
        inp.store, inp.store_source = Path(data), "--data"
        if not (inp.store / "manifest.json").is_file():
            raise FileNotFoundError(f"{inp.store}: not a prepared store (no manifest.json)")
        return
    cands: list[tuple[str, str]] = []
    stores = (inp.provenance or {}).get("stores") or []
    if stores and stores[0].get("path"):
        cands.append((str(stores[0]["path"]), "the pretraining run's first store (provenance.json)"))
    for r in inp.results:
        if r.data.store:
            cands.append((r.data.store, f"the store of {r.path}"))
    for path, source in cands:
        if (Path(path) / "manifest.json").is_file():
            inp.store, inp.store_source = Path(path), source
            return
    if cands:
        inp.notes.append(f"the store {cands[0][0]} ({cands[0][1]}) is not on this machine: pass --data STORE")
    else:
        inp.notes.append("no store is named by the run or its results: pass --data STORE")

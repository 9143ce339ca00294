"""The README's short headline table: the result folders declared in ``DIR/headline.yaml`` against random init at
the same architecture and the best like-for-like published number, with a verdict the intervals allow.

The declaration names, per data set, which committed runs are the headline (ours, and its random-init twin) and
why, so the table never picks the best of ours by its test score. ``s2i results --readme DIR`` prints it;
``s2i results --table DIR`` (:func:`s2i.evaluation.headline.all_results_table`) prints every committed result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .headline import ANCHORS_FILE, Anchor, ProtocolRow, load_anchors, protocol_order, protocol_rows
from .metrics import interval_text, top1_interval
from .record import RunRecord
from .results import RESULTS_FILE, Pooled, check_distinct, load_results, pool_top1, seeds_varied

__all__ = ["HEADLINE_FILE", "HEADLINE_KNN_KS", "HeadlineEntry", "compare_intervals", "headline_table",
           "load_headline", "verdict"]

HEADLINE_FILE = "headline.yaml"
#: the kNN rows of a headline (the like-for-like figure for P&C, and the field's k = 20), where a run holds them
HEADLINE_KNN_KS = (1, 20)
RESULTS_LINK = "docs/results.md"


class HeadlineEntry(BaseModel):
    """One declared headline: a data set and split, why these runs (never their score), and the result folders
    (relative to the file's folder) of ours and of random init at the same architecture."""

    model_config = ConfigDict(extra="forbid")

    dataset: str
    split: str
    reason: str = Field(min_length=1)
    ours: list[str] = Field(min_length=1)
    random_init: list[str] = Field(min_length=1)


class _HeadlineFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    headlines: list[HeadlineEntry] = Field(min_length=1)


@dataclass(frozen=True)
class Declared:
    """A validated entry with its runs read."""

    entry: HeadlineEntry
    ours: list[RunRecord]
    random_init: list[RunRecord]


def _schema_error(f: Path, raw: Any, e: ValidationError) -> ValueError:
    """One line per offending key, naming the file and the entry (its number and data set)."""
    lines = []
    for err in e.errors():
        loc = list(err["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == "headlines" and isinstance(loc[1], int):
            item = raw["headlines"][loc[1]]
            name = f" ({item.get('dataset')})" if isinstance(item, dict) and item.get("dataset") else ""
            where, loc = f"entry {loc[1] + 1}{name}: ", loc[2:]
        key = ".".join(str(x) for x in loc)
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{where}{key + ': ' if key else ''}{msg}")
    return ValueError(f"{f}: not a headline file (headlines: [{{dataset, split, reason, ours: [folder...],"
                      f" random_init: [folder...]}}]): " + "; ".join(lines))


def _read_runs(f: Path, root: Path, where: str, folders: list[str]) -> list[RunRecord]:
    """The results.json of each declared folder, which must lie below ``root``."""
    files = []
    for folder in folders:
        rel = Path(folder)
        target = root / rel / RESULTS_FILE
        if rel.is_absolute() or ".." in rel.parts or not target.is_file():
            raise ValueError(f"{f}: {where}: no committed result folder {folder!r} (expected {target})")
        files.append(target)
    return load_results(files)


def _architecture(r: RunRecord) -> tuple[Any, ...]:
    c = r.checkpoint
    return (c.backbone, c.backbone_kwargs, c.img_size, c.patch_size) if c is not None else ()


def _check_runs(f: Path, where: str, entry: HeadlineEntry, ours: list[RunRecord], rand: list[RunRecord],
                test: int | None) -> None:
    """Each run is on the entry's data set and split, on the whole official test set; ours pretrained, the
    baseline random init at ours' architecture."""
    test = test or ours[0].num_test_samples
    for r in [*ours, *rand]:
        if (r.dataset, r.split) != (entry.dataset, entry.split):
            raise ValueError(f"{f}: {where}: {r.path} is on {r.dataset} {r.split}, not {entry.dataset} {entry.split}")
        if not test or r.num_test_samples != test:
            raise ValueError(f"{f}: {where}: {r.path} scored {r.num_test_samples} test sequences, not the"
                             f" {test} of the whole official test set ({ANCHORS_FILE}, or the entry's first run)")
    for r in ours:
        if r.init == "random":
            raise ValueError(f"{f}: {where}: {r.path} is a random-init run, declared under ours")
    arch = [_architecture(r) for r in ours]
    for r in rand:
        if r.init != "random":
            raise ValueError(f"{f}: {where}: {r.path} is not a random-init run ({r.init}), declared under random_init")
        if _architecture(r) not in arch:
            raise ValueError(f"{f}: {where}: {r.path} is not at ours' architecture (backbone, its options, image and"
                             " patch size differ)")


def load_headline(folder: str | Path) -> tuple[list[Declared], dict[str, dict[str, Any]], list[Anchor]]:
    """``DIR/headline.yaml`` validated against the folders below DIR and ``DIR/anchors.yaml``'s data sets: the
    declared entries with their runs, and the anchors' data sets and anchors. Errors name the file and entry."""
    root = Path(folder)
    f = root / HEADLINE_FILE
    if not f.is_file():
        raise FileNotFoundError(f"{f}: no headline declaration (which result folders make each data set's"
                                " headline); `s2i results --table DIR` prints every result without one")
    try:
        raw = yaml.safe_load(f.read_text())
    except yaml.YAMLError as e:
        raise ValueError(f"{f}: not YAML: {e}") from None
    try:
        entries = _HeadlineFile.model_validate(raw).headlines
    except ValidationError as e:
        raise _schema_error(f, raw, e) from None
    names, anchors = load_anchors(root)
    declared = []
    for i, entry in enumerate(entries):
        where = f"entry {i + 1} ({entry.dataset} {entry.split})"
        if entry.dataset not in names:
            raise ValueError(f"{f}: {where}: data set {entry.dataset!r} is not in {root / ANCHORS_FILE}'s datasets"
                             f" ({', '.join(sorted(names)) or 'none'}): add its title and test count there")
        ours = _read_runs(f, root, where, entry.ours)
        rand = _read_runs(f, root, where, entry.random_init)
        _check_runs(f, where, entry, ours, rand, names[entry.dataset]["test"])
        declared.append(Declared(entry, ours, rand))
    check_distinct([r for d in declared for r in [*d.ours, *d.random_init]])
    return declared, names, anchors


Comparison = Literal["inside interval", "above", "below"]


def compare_intervals(ours: tuple[float, float], other: tuple[float, float]) -> Comparison:
    """"inside interval" when the two intervals overlap (no measured difference), else "above" or "below"."""
    if ours[0] > other[1]:
        return "above"
    if ours[1] < other[0]:
        return "below"
    return "inside interval"


def verdict(ours: tuple[float, float], random_init: tuple[float, float] | None,
            published: tuple[float, float] | None) -> str:
    """The verdict cell: against random init, then the published number; above / below only where the two 95 %
    intervals do not overlap."""
    parts = []
    for name, other in (("random", random_init), ("published", published)):
        if other is not None:
            c = compare_intervals(ours, other)
            parts.append(f"inside interval of {name}" if c == "inside interval" else f"{c} {name}")
    return "; ".join(parts)


def _cell(p: Pooled, who: str = "") -> str:
    """``mean ± std [lo–hi] (who; what varied)``."""
    text = f"{p.mean:.1f}" + (f" ± {p.std:.1f}" if p.seeds > 1 else "")
    iv = interval_text(p.mean, p.n)
    return text + (f" [{iv}]" if iv else "") + f" ({'; '.join(x for x in (who, seeds_varied(p) or '1 seed') if x)})"


def _best_anchor(anchors: list[Anchor], entry: HeadlineEntry, key: str | None) -> Anchor | None:
    """The highest published top-1 on the entry's data set and split whose ``compare_with`` is this row's
    protocol (``key``, a whole word: "kNN k = 1" is not "kNN k = 10")."""
    like = [a for a in anchors if (a.dataset, a.split) == (entry.dataset, entry.split) and key is not None
            and re.match(re.escape(key) + r"(?![\w.])", a.compare_with)]
    return max(like, key=lambda a: a.top1, default=None)


def _rows(d: Declared, names: dict[str, dict[str, Any]], anchors: list[Anchor]) -> list[str]:
    """One row per protocol the declared runs hold: ours, random init, the best like-for-like anchor, verdict."""
    def by_label(runs: list[RunRecord]) -> dict[str, list[ProtocolRow]]:
        out: dict[str, list[ProtocolRow]] = {}
        for r in runs:
            for row in protocol_rows(r, HEADLINE_KNN_KS):
                out.setdefault(row.label, []).append(row)
        return out

    ours, rand = by_label(d.ours), by_label(d.random_init)
    labels = sorted(ours, key=lambda k: protocol_order(ours[k][0].result.protocol, k))
    lines = []
    for i, label in enumerate(labels):
        p = pool_top1([row.result for row in ours[label]])
        n = p.n or 0
        mine = top1_interval(p.mean, n)
        first = "" if i else f"{names[d.entry.dataset]['title']} {d.entry.split} ({n})"
        encoder = ", ".join(sorted({r.label for r in d.ours}))
        q = pool_top1([row.result for row in rand[label]]) if label in rand else None
        a = _best_anchor(anchors, d.entry, ours[label][0].compare_key)
        published = (f"{a.top1:.1f} [{interval_text(a.top1, n)}] {a.method}: {a.protocol}" if a
                     else "none recorded like for like")
        baseline = _cell(q) if q else "not measured"
        said = verdict(mine, top1_interval(q.mean, n) if q else None, top1_interval(a.top1, n) if a else None)
        lines.append(f"|{f' {first} ' if first else ' '}| {label} | {_cell(p, encoder)} | {baseline} | {published}"
                     f" | {said} |")
    return lines


NOTE = ("Top-1 % on the whole official test set of n sequences, last epoch; ± : std over the seeds named; [lo–hi]:"
        " 95 % Wilson interval on n (a published number's: on the same n); the verdict says above or below only"
        f" where the two intervals do not overlap. The runs are declared, with a reason, in `{HEADLINE_FILE}`"
        f" beside the result files, never picked by test score; every committed result: [{RESULTS_LINK}]"
        f"({RESULTS_LINK}).")


def headline_table(folder: str | Path) -> str:
    """The README's short table (Markdown) of the headline runs declared in ``folder/headline.yaml``."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder of result files")
    declared, names, anchors = load_headline(root)
    lines = ["| data set, split (n test) | protocol | ours (encoder) | random init, same architecture |"
             " best published, like for like | verdict |", "|---|---|---|---|---|---|"]
    for d in declared:
        lines += _rows(d, names, anchors)
    return "\n".join(lines) + "\n\n" + NOTE + "\n"

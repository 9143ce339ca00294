"""``s2i demo``: the whole method on real motion data, in minutes on a CPU, ending in ``DIR/report.html``.

Stages (each one the library call a user would make; the folder keeps every artefact)::

    DIR/store/                 the prepared store (default: the humanoid motion clips the pybullet wheel ships)
    DIR/pretrain/              MAE pretraining of a small ViT on S2I images (s2i pretrain's run folder)
    DIR/eval/<row>-<init>/results.json   the recipe's rows, pretrained vs random initialisation: the demo's own
                               encoder, or a bundled one (``s2i-tiny``) against its architecture at random weights
    DIR/report.html            the visual report (s2i report), images in DIR/report_files/
    DIR/demo.json              what ran: stages, wall times, results, versions, device

``--data`` takes a prepared store or a raw data set folder (the data set is recognised from its files,
e.g. ``../shared/data/nw_ucla``). The demo never deletes anything it did not write: an existing DIR must
be empty or an earlier demo's folder (typed by its marker, :mod:`s2i.outputs`; then ``overwrite=True``
replaces it), and never the ``--data`` folder or one holding it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .evaluation.record import RunRecord

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["DemoResult", "DemoRow", "demo_eval_rows", "demo_pretrain_tree", "detect_source", "run_demo"]

MARKER = "demo.json"
#: the demo's recipes, YAML files shipped in the package (``s2i/recipes/``), each value's reason beside it
PRETRAIN_RECIPE = "demo_pretrain.yaml"
EVAL_RECIPE = "demo_eval.yaml"
INITS = ("pretrained", "random")
#: a row's ``encoder``: the encoder this demo pretrains (any other value names a bundled encoder, ``s2i models``)
OWN = "demo"
#: sources that take any folder (never guessed from files)
_GENERIC = {"folder", "npy", "pyskl", "mocap"}


class DemoRow(BaseModel):
    """One evaluation of the demo (a column of its table), run for each initialisation."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(description="the column's heading")
    encoder: str = Field(OWN, description="'demo': the encoder this demo pretrains; else a bundled encoder's name"
                         " (s2i models), e.g. s2i-tiny, against its own architecture at random weights")
    protocol: str = Field(description="an s2i eval protocol: linear, knn, semi, ...")
    config: dict[str, Any] = Field(default_factory=dict, description="EvalConfig keys over the recipe's common ones")
    random: dict[str, Any] = Field(default_factory=dict, description="EvalConfig keys for init=random only (its own"
                                   " best setting, chosen on the same validation carve as the pretrained one)")


class _EvalRecipe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    common: dict[str, Any] = Field(default_factory=dict)
    rows: dict[str, DemoRow] = Field(min_length=1)
    rest_in_steps: float = Field(ge=0.0, description="evaluation + report time in pretraining steps (measured)")

    @field_validator("rows")
    @classmethod
    def _known_encoders(cls, rows: dict[str, DemoRow]) -> dict[str, DemoRow]:
        from .models.bundled import bundled_names

        names = bundled_names()
        for key, row in rows.items():
            if row.encoder != OWN and row.encoder not in names:
                raise ValueError(f"rows.{key}.encoder: {row.encoder!r} is neither {OWN!r} (the demo's own encoder)"
                                 f" nor a bundled encoder ({', '.join(names) or 'none installed'})")
        return rows


def _recipe(name: str) -> tuple[dict[str, Any], str]:
    """(tree, file) of a recipe shipped in ``s2i/recipes/`` (package data, there after ``pip install .``)."""
    from importlib.resources import as_file, files

    from .config_files import read_config_tree

    with as_file(files("s2i") / "recipes" / name) as path:
        tree, source = read_config_tree(path)
    return tree, source


def demo_pretrain_tree() -> dict[str, Any]:
    """The demo's pretraining config (``s2i/recipes/demo_pretrain.yaml``) as a mapping."""
    return _recipe(PRETRAIN_RECIPE)[0]


def _eval_recipe(overrides: list[str] | tuple[str, ...] = ()) -> tuple[_EvalRecipe, str]:
    from .config_files import apply_overrides, config_error

    tree, source = _recipe(EVAL_RECIPE)
    try:
        return _EvalRecipe.model_validate(apply_overrides(tree, list(overrides))), source
    except ValidationError as e:
        raise config_error(source, e, _EvalRecipe, overrides) from None


def demo_eval_rows(overrides: list[str] | tuple[str, ...] = ()) -> dict[str, DemoRow]:
    """The demo's evaluations (``s2i/recipes/demo_eval.yaml``, ``overrides`` such as
    ``rows.few-labels.config.finetune.epochs=5`` applied), each row's config with the common keys merged."""
    from .config_files import merge_trees

    recipe, _ = _eval_recipe(overrides)
    return {name: row.model_copy(update={"config": merge_trees(recipe.common, row.config)})
            for name, row in recipe.rows.items()}


def _row_config(row: DemoRow, init: str, cache_dir: Path) -> Any:
    """The validated EvalConfig of one row and initialisation."""
    from .config_files import merge_trees
    from .evaluation.config import validate_eval_config

    tree = merge_trees(row.config, row.random) if init == "random" else row.config
    tree = {**tree, "init": init, "method": _method(row, init), "cache_dir": str(cache_dir)}
    return validate_eval_config(tree, f"s2i/recipes/{EVAL_RECIPE}: {row.title}, init={init}")


def _method(row: DemoRow, init: str) -> str:
    """The results' row label: the demo's own encoder, or the bundled one (as its committed results name it)."""
    if row.encoder == OWN:
        return f"{init} ViT (demo)"
    return row.encoder if init == "pretrained" else f"random init ({row.encoder} architecture)"


def _checkpoint(row: DemoRow, run: Path) -> str | Path:
    """What a row evaluates: the demo's pretraining run, or the bundled encoder it names."""
    return run if row.encoder == OWN else row.encoder


def _estimate(line: str, elapsed: float, rest_steps: float) -> str | None:
    """The whole demo's expected duration from the pretraining's own estimate line (its s/step, timed over
    its first steps): time so far + the steps left + evaluation and report, worth ``rest_steps`` steps."""
    import re

    from .lightning_progress import format_seconds

    m = re.search(r"for the (\d+) steps left \(([\d.]+) s/step", line)
    if m is None:
        return None
    left, per_step = int(m.group(1)), float(m.group(2))
    return (f"estimate for the whole demo: about {format_seconds(elapsed + (left + rest_steps) * per_step)}"
            f" (evaluation and report take about {rest_steps:.0f} pretraining steps' time)")


def wilson_text(top1: float, n: int) -> str:
    """``[lo–hi]``: the 95 % Wilson interval of a top-1 % on ``n`` test sequences."""
    from .evaluation.metrics import interval_text

    return f"[{interval_text(top1, n)}]"


@dataclass
class DemoResult:
    """What a demo run produced: folders, results per (row, init), the rows' titles, stage wall times."""

    out: Path
    store: Path
    run: Path
    report: Path | None
    results: dict[tuple[str, str], RunRecord] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)


def detect_source(root: str | Path) -> str:
    """The registered data set whose file listing finds the most files under ``root`` (not the generic ones)."""
    from .sources import SOURCES, PrepareOptions

    root = Path(root)
    best, count = None, 0
    for name, src in SOURCES.items():
        if name in _GENERIC:
            continue
        try:
            items, _ = src.list_items(root, PrepareOptions(root=str(root)))
        except Exception:  # noqa: BLE001 - a source that cannot read this folder simply does not match
            continue
        if len(items) > count:
            best, count = name, len(items)
    if best is None:
        raise ValueError(f"{root}: no known data set found (neither a prepared store nor raw files of"
                         f" {', '.join(sorted(set(SOURCES) - _GENERIC))}); prepare it with `s2i prepare` first")
    return best


def _check_out(out: Path, data: str | Path | None, overwrite: bool) -> None:
    """DIR must be new, empty, or (with overwrite) an earlier demo's folder, typed as such by its content
    (:mod:`s2i.outputs`), and apart from ``--data``: never delete what is not ours. Clears an earlier demo."""
    from .outputs import OutputError, claim_output, remove_entry

    if not claim_output(out, "demo", [("--data", data)]):
        return
    if not overwrite:
        raise OutputError(f"{out} holds an earlier demo: pass --overwrite to replace it, or another --out")
    for name in ("store", "pretrain", "eval", "report_files", "report.html", MARKER):
        remove_entry(out / name)  # a symlink is removed itself, never followed


def _prepare_data(data: str | Path | None, out: Path, progress: bool,
                  log: Callable[[str], None]) -> tuple[Path, str]:
    """The store to use and the data set's name: a given store as is, else prepared into DIR/store."""
    from .encode.value_range import precompute_value_ranges
    from .store.prepare import prepare
    from .store.publish import is_store

    if data is not None and is_store(Path(data)):
        return Path(data), "store"
    root: Path | None = None
    if data is None:
        name = "humanoid-motions"  # the clips the pybullet wheel ships (the source's default root)
    else:
        root = Path(data)
        if not root.is_dir():
            raise FileNotFoundError(f"--data {root}: no such folder (a prepared store or a raw data set folder)")
        name = detect_source(root)
    res = prepare(name, root, out / "store", progress=progress, stats_hook=precompute_value_ranges)
    skipped = f", {len(res.failed)} unreadable file(s) skipped (listed in {res.store}/report.json)" \
        if res.failed else ""
    log(f"prepared {name} from {root or 'the pybullet wheel'}: {res.sequences} sequences in {res.seconds:.1f} s"
        f"{skipped}")
    for m in res.mismatches:
        log(f"warning: {m}")
    return Path(res.store), name


def _pretrain_config(overrides: list[str] | tuple[str, ...], steps: int | None, progress: bool) -> Any:
    from .training.config import apply_overrides, validate_config

    tree, source = _recipe(PRETRAIN_RECIPE)
    tree.setdefault("trainer", {})["progress_bar"] = progress
    if steps is not None:
        tree.setdefault("optim", {})["max_steps"] = int(steps)
        tree["optim"]["warmup_steps"] = max(1, int(steps) // 10)
        tree["trainer"]["checkpoint_every"] = max(1, int(steps) // 3)
    return validate_config(apply_overrides(tree, list(overrides)), source, overrides)


def _two_format_pairs(name: str) -> list[Any]:
    """The same humanoid clips in two skeleton formats, for the report's cross-format section."""
    if name != "humanoid-motions":
        return []
    from .readers.deepmimic import motion_dir, read_deepmimic_motion

    clips = sorted(motion_dir().glob("humanoid3d_*.txt"))
    want = [c for c in clips if c.stem.split("_", 1)[1] in ("cartwheel", "walk")] or clips[:2]
    return [(read_deepmimic_motion(c, "humanoid3d"), read_deepmimic_motion(c, "kinect_v1")) for c in want]


def run_demo(data: str | Path | None = None, out: str | Path = "s2i-demo", steps: int | None = None,
             overrides: list[str] | tuple[str, ...] = (), overwrite: bool = False, report: bool = True,
             progress: bool = True, log: Callable[[str], None] = print,
             eval_overrides: list[str] | tuple[str, ...] = ()) -> DemoResult:
    """Prepare → pretrain → evaluate (the recipe's rows: pretrained vs random init) → report, in ``out``.

    ``overrides`` change the pretraining recipe, ``eval_overrides`` the evaluation recipe (``key.path=value``)."""
    from . import __version__
    from .evaluation.protocols import run_protocol
    from .evaluation.results import environment
    from .outputs import mark_output
    from .training.fit import pretrain

    out = Path(out)
    _check_out(out, data, overwrite)
    config = _pretrain_config(overrides, steps, progress)
    recipe, eval_source = _eval_recipe(eval_overrides)
    rows = demo_eval_rows(eval_overrides)
    mark_output(out, "demo")
    t_all, c_all = time.perf_counter(), time.process_time()
    stages: dict[str, float] = {}
    cpu: dict[str, float] = {}
    marker: dict[str, Any] = {"kind": "s2i-demo", "version": __version__, "data": str(data) if data else None,
                              "status": "running", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n")

    def stage(name: str, t: float, c: float) -> None:
        stages[name], cpu[name] = time.perf_counter() - t, time.process_time() - c

    log("[1/4] data")
    t, c = time.perf_counter(), time.process_time()
    store, name = _prepare_data(data, out, progress, log)
    stage("prepare", t, c)

    log(f"[2/4] MAE pretraining: {config.model.backbone} (depth {config.model.backbone_kwargs.get('depth', 12)}),"
        f" {config.encode.height}x{config.encode.width} S2I images, {config.optim.max_steps} steps"
        " (an estimate of the whole demo follows its first steps)")

    def announce(line: str) -> None:
        log(line)
        whole = _estimate(line, time.perf_counter() - t_all, recipe.rest_in_steps)
        if whole is not None:
            log(whole)

    t, c = time.perf_counter(), time.process_time()
    run = pretrain(config, [store], out / "pretrain", announce=announce)
    stage("pretrain", t, c)

    log(f"[3/4] evaluation, pretrained vs random initialisation: {'; '.join(r.title for r in rows.values())}")
    t, c = time.perf_counter(), time.process_time()
    results: dict[tuple[str, str], RunRecord] = {}
    for key, row in rows.items():
        for init in INITS:
            cfg = _row_config(row, init, out / "eval" / ".features")
            results[(key, init)] = run_protocol(row.protocol, _checkpoint(row, run), store,
                                                out / "eval" / f"{key}-{init}", config=cfg, progress=progress)
    stage("evaluate", t, c)
    from .models import write_model_card

    # the encoder's model card shows what the demo measured with it (not the bundled encoders' rows)
    write_model_card(run, [r.dump() for (k, _), r in results.items() if rows[k].encoder == OWN])

    page = None
    if report:
        log("[4/4] report")
        t, c = time.perf_counter(), time.process_time()
        from .report import write_report

        page = write_report(out, out / "report.html", data=store, progress=progress,
                            two_format_pairs=_two_format_pairs(name))
        stage("report", t, c)
    stages["total"], cpu["total"] = time.perf_counter() - t_all, time.process_time() - c_all

    marker.update(status="done", store=str(store), dataset=name, run=str(run), report=str(page) if page else None,
                  wall_time_s={k: round(v, 1) for k, v in stages.items()},
                  cpu_time_s={k: round(v, 1) for k, v in cpu.items()},
                  results={f"{k}-{i}": _summary(rows[k], r) for (k, i), r in results.items()},
                  pretrain_config=config.model_dump(mode="json"), evaluation_recipe=eval_source,
                  evaluation_config={k: {**row.model_dump(mode="json")} for k, row in rows.items()},
                  environment=environment())
    (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    return DemoResult(out, store, run, page, results, stages, {k: r.title for k, r in rows.items()})


def _summary(row: DemoRow, r: RunRecord) -> dict[str, Any]:
    """What demo.json keeps of one evaluation: top-1 (mean over seeds), its interval, the seeds."""
    n = int(r.num_test_samples or 0)
    return {"title": row.title, "encoder": row.encoder, "protocol": row.protocol, "top1": r.top1, "top5": r.top5,
            "num_test_samples": n, "wilson95": wilson_text(r.top1, n), "seeds": r.seeds}

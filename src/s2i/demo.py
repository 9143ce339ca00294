"""``s2i demo``: the whole method on real motion data, in minutes on a CPU, ending in ``DIR/report.html``.

Stages (each one the library call a user would make; the folder keeps every artefact)::

    DIR/store/                 the prepared store (default: the humanoid motion clips the pybullet wheel ships)
    DIR/pretrain/              MAE pretraining of a small ViT on S2I images (s2i pretrain's run folder)
    DIR/eval/<protocol>-<init>/results.json   linear probe and kNN, pretrained vs random initialisation
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

__all__ = ["DEMO_EVAL", "DEMO_PRETRAIN", "DemoResult", "detect_source", "run_demo"]

MARKER = "demo.json"
#: MAE pretraining of the demo: a 4-block ViT-Tiny on 64 x 64 S2I images (8 x 8 patches), a few minutes on a CPU.
#: Mask ratio 0.5 and plain-pixel targets: on the demo data at 300 steps (seed 0) they gave linear / kNN top-1
#: 96.7 / 98.3 against 88.3 / 90.0 with MAE's defaults (0.75, norm_pix_loss), 92.5 / 98.3 with 0.75 and plain
#: pixels, 74.2 / 75.0 with body-part block masking; random init 95.8 / 98.3 (docs/results.md).
DEMO_PRETRAIN: dict[str, Any] = {
    "seed": 0,
    "encode": {"height": 64, "width": 64, "stream": "joint"},
    "model": {"backbone": "vit_tiny_patch16_224", "patch_size": 8, "backbone_kwargs": {"depth": 4},
              "decoder_dim": 128, "decoder_depth": 2, "decoder_heads": 4, "mask_ratio": 0.5, "masking": "random",
              "norm_pix_loss": False},
    "data": {"batch_size": 32, "temporal_crop": [0.6, 1.0]},
    "augment": {"rotate": 15, "scale": [0.9, 1.1]},
    "optim": {"base_lr": 1.0e-2, "weight_decay": 0.05, "max_steps": 300, "warmup_steps": 30},
    "trainer": {"checkpoint_every": 100, "log_every": 10},
}
#: frozen-feature protocols of the demo (S2I.md 9 recipes, shorter linear schedule: the features are cached)
DEMO_EVAL: dict[str, Any] = {
    "seeds": [0], "streams": ["joint"], "pooling": "mean", "batch_size": 128,
    "linear": {"epochs": 60, "batch_size": 64},
    "knn": {"ks": [1, 5, 10], "report_k": 5},
}
PROTOCOLS = ("linear", "knn")
INITS = ("pretrained", "random")
#: sources that take any folder (never guessed from files)
_GENERIC = {"folder", "npy", "pyskl", "mocap"}


@dataclass
class DemoResult:
    """What a demo run produced: folders, results per (protocol, init), stage wall times."""

    out: Path
    store: Path
    run: Path
    report: Path | None
    results: dict[tuple[str, str], RunRecord] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)


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

    tree = json.loads(json.dumps(DEMO_PRETRAIN))
    tree["trainer"]["progress_bar"] = progress
    if steps is not None:
        tree["optim"]["max_steps"] = int(steps)
        tree["optim"]["warmup_steps"] = max(1, int(steps) // 10)
        tree["trainer"]["checkpoint_every"] = max(1, int(steps) // 3)
    return validate_config(apply_overrides(tree, list(overrides)), "demo pretraining config")


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
             progress: bool = True, log: Callable[[str], None] = print) -> DemoResult:
    """Prepare → pretrain → evaluate (linear, kNN; pretrained vs random init) → report, in ``out``."""
    from . import __version__
    from .evaluation.config import validate_eval_config
    from .evaluation.protocols import run_protocol
    from .evaluation.results import environment
    from .outputs import mark_output
    from .training.fit import pretrain

    out = Path(out)
    _check_out(out, data, overwrite)
    mark_output(out, "demo")
    config = _pretrain_config(overrides, steps, progress)
    t_all = time.perf_counter()
    stages: dict[str, float] = {}
    marker: dict[str, Any] = {"kind": "s2i-demo", "version": __version__, "data": str(data) if data else None,
                              "status": "running", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n")

    log("[1/4] data")
    t = time.perf_counter()
    store, name = _prepare_data(data, out, progress, log)
    stages["prepare"] = time.perf_counter() - t

    log(f"[2/4] MAE pretraining: {config.model.backbone} (depth {config.model.backbone_kwargs.get('depth', 12)}),"
        f" {config.encode.height}x{config.encode.width} S2I images, {config.optim.max_steps} steps")
    t = time.perf_counter()
    run = pretrain(config, [store], out / "pretrain", announce=log)
    stages["pretrain"] = time.perf_counter() - t

    log("[3/4] evaluation: linear probe and kNN on frozen features, pretrained vs random initialisation")
    t = time.perf_counter()
    results: dict[tuple[str, str], RunRecord] = {}
    for init in INITS:
        cfg = validate_eval_config({**DEMO_EVAL, "init": init, "method": f"{init} ViT (demo)",
                                    "cache_dir": str(out / "eval" / ".features")}, "demo evaluation config")
        for protocol in PROTOCOLS:
            results[(protocol, init)] = run_protocol(protocol, run, store, out / "eval" / f"{protocol}-{init}",
                                                     config=cfg, progress=progress)
    stages["evaluate"] = time.perf_counter() - t
    from .models import write_model_card

    write_model_card(run, [r.dump() for r in results.values()])  # the encoder's model card shows what the demo measured

    page = None
    if report:
        log("[4/4] report")
        t = time.perf_counter()
        from .report import write_report

        page = write_report(out, out / "report.html", data=store, progress=progress,
                            two_format_pairs=_two_format_pairs(name))
        stages["report"] = time.perf_counter() - t
    stages["total"] = time.perf_counter() - t_all

    marker.update(status="done", store=str(store), dataset=name, run=str(run), report=str(page) if page else None,
                  wall_time_s={k: round(v, 1) for k, v in stages.items()},
                  results={f"{p}-{i}": {"top1": r.top1, "top5": r.top5, "num_test_samples": r.num_test_samples}
                           for (p, i), r in results.items()},
                  pretrain_config=config.model_dump(mode="json"), evaluation_config=DEMO_EVAL,
                  environment=environment())
    (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    return DemoResult(out, store, run, page, results, stages)

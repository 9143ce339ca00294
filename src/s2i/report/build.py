"""``write_report(RUN)``: one self-contained ``report.html`` of a pretraining run and its evaluations.

Sections (each one says in a visible note what it could not show and why; none stops the report):

1. S2I images of sample test sequences, per stream, with the body-part bands named, next to an animated
   skeleton of the same sequence;
2. the same motion in two skeleton formats side by side (``two_format_pairs``);
3. MAE reconstructions (original / masked / reconstructed) from the run's checkpoint;
4. training curves, confusion matrices and per-class accuracy, t-SNE of test-set features;
5. a table of every evaluation result and the provenance of the run and the results.

Inputs are found by :func:`s2i.report.discover.discover`; images go to ``<page>_files/`` beside the page
and are embedded in it as data URIs. An existing page is replaced only when it is an s2i report, and the
image folder only when its marker says it is one (:mod:`s2i.outputs`); neither may be a symlink.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..encode import S2IConfig, S2IEncoder
from ..outputs import OutputError, claim_output, mark_output
from ..skeleton import SkeletonSequence, collate_sequences
from ..store import SkeletonStore
from .discover import RunInputs, discover
from .html import GENERATOR, Figure, Page, Section

if TYPE_CHECKING:
    from ..evaluation.record import RunRecord

__all__ = ["PairSource", "STREAMS", "write_report"]

STREAMS = ("joint", "bone", "motion", "bone_motion")
STREAM_WHAT = {"joint": "joint positions", "bone": "bone vectors (joint − parent)",
               "motion": "joint motion (x[t+1] − x[t])", "bone_motion": "bone motion (bone[t+1] − bone[t])"}

Pair = tuple[SkeletonSequence, SkeletonSequence]
#: the two-format section's input: pairs of the same motion in two formats, or a callable that makes them
PairSource = Sequence[Pair] | Callable[[], Sequence[Pair]]


@dataclass
class _Ctx:
    inp: RunInputs
    files: Path
    samples: int
    progress: bool
    t0: float = field(default_factory=time.perf_counter)
    store: SkeletonStore | None = None
    split: str | None = None
    sample_ids: list[int] = field(default_factory=list)
    config: S2IConfig | None = None
    ranges: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)

    def log(self, msg: str) -> None:
        if self.progress:
            print(f"[report {time.perf_counter() - self.t0:6.1f} s] {msg}", file=sys.stderr, flush=True)

    def path(self, name: str) -> Path:
        return self.files / name


# --- helpers -------------------------------------------------------------------------------------
def _run_ranges(provenance: dict[str, Any] | None) -> dict[str, tuple[list[float], list[float]]]:
    out: dict[str, tuple[list[float], list[float]]] = {}
    for s in (provenance or {}).get("stores") or []:
        vr = s.get("value_range") or {}
        if "lo" not in vr:
            continue
        lo, hi = list(vr["lo"]), list(vr["hi"])
        if s["format"] in out:
            plo, phi = out[s["format"]]
            lo, hi = [min(a, b) for a, b in zip(plo, lo)], [max(a, b) for a, b in zip(phi, hi)]
        out[s["format"]] = (lo, hi)
    return out


def _encode_config(ctx: _Ctx) -> S2IConfig:
    """The run's S2I options (config.yaml), else an evaluation's, else the defaults; persons resolved."""
    from ..encode import resolve_persons, store_has_two_person

    cfg: S2IConfig | None = None
    if ctx.inp.pretrain is not None and (ctx.inp.pretrain / "config.yaml").is_file():
        from ..training.config import load_config

        cfg = load_config(ctx.inp.pretrain / "config.yaml").encode
    for r in ctx.inp.results:
        if cfg is None and r.encoders:
            cfg = S2IConfig(**next(iter(r.encoders.values())).config)
    cfg = (cfg or S2IConfig()).model_copy(update={"temporal_crop": None})
    two = store_has_two_person(ctx.store) if ctx.store is not None else True
    return resolve_persons(cfg, two)


def _split_with_test(ctx: _Ctx) -> str | None:
    assert ctx.store is not None
    splits = ctx.store.splits
    prov = ((ctx.inp.provenance or {}).get("stores") or [{}])[0].get("split")
    names = [prov] if prov else []
    names += [r.split for r in ctx.inp.results]
    names += sorted(splits)
    for name in names:
        if name in splits and "test" in splits[name]:
            return str(name)
    return None


def _pick_samples(labels: np.ndarray, ids: np.ndarray, n: int) -> list[int]:
    """Up to ``n`` ids, one class after another (the first sequence of each class, then the second...)."""
    by_class: dict[int, list[int]] = {}
    for i, lab in zip(ids.tolist(), labels.tolist()):
        by_class.setdefault(int(lab), []).append(int(i))
    out: list[int] = []
    for k in range(max((len(v) for v in by_class.values()), default=0)):
        out += [v[k] for _, v in sorted(by_class.items()) if k < len(v)]
        if len(out) >= n:
            break
    return out[:n]


def _class_name(ctx: _Ctx, label: int) -> str:
    return ctx.class_names[label] if 0 <= label < len(ctx.class_names) else f"class {label}"


def _prepare(ctx: _Ctx) -> None:
    """Open the store, choose the split and the sample sequences, read the S2I options and class names."""
    if ctx.inp.store is not None:
        ctx.store = SkeletonStore(ctx.inp.store)
        ctx.split = _split_with_test(ctx)
        ids = ctx.store.split_ids(ctx.split, "test") if ctx.split else np.arange(len(ctx.store))
        ctx.sample_ids = _pick_samples(ctx.store.labels[ids], ids, ctx.samples)
        ctx.class_names = list(ctx.store.class_names or [])
    if not ctx.class_names:
        for r in ctx.inp.results:
            if r.class_names:
                ctx.class_names = list(r.class_names)
                break
    ctx.config = _encode_config(ctx)
    ctx.ranges = _run_ranges(ctx.inp.provenance)


def _channels(dims: int) -> str:
    return "R = x, G = y, B = z" if dims == 3 else "R = x, G = y, B = detection confidence (already in [0, 1])"


def _fmt_range(v: Sequence[float]) -> str:
    return "(" + ", ".join(f"{x:.3g}" for x in v) + ")"


def _stream_encoder(ctx: _Ctx, spec: Any, stream: str, store: SkeletonStore) -> tuple[S2IEncoder, str]:
    """The S2I encoder of one stream with its value range, and where the range came from."""
    from ..encode import dataset_value_range

    assert ctx.config is not None
    cfg = ctx.config.model_copy(update={"stream": stream, "range_lo": None, "range_hi": None})
    enc = S2IEncoder(spec, cfg)
    if cfg.value_range != "dataset":
        return enc, ("each sequence's own range" if cfg.value_range == "sequence" else
                     "the fixed range of the run's configuration")
    if stream == ctx.config.stream and spec.name in ctx.ranges:
        lo, hi = ctx.ranges[spec.name]
        source = "the pretraining run's data-set range"
    else:
        lo, hi = dataset_value_range(store, ctx.split, cfg)
        source = "the data-set range of the store's training split"
    enc.set_value_range(lo, hi)
    return enc, source


def _encode_one(enc: S2IEncoder, seq: SkeletonSequence) -> np.ndarray:
    from ..encode.persons import take_persons

    mp = enc.config.max_persons
    x = take_persons(torch.from_numpy(np.ascontiguousarray(seq.joints)), mp)[None]
    conf = None if seq.confidence is None else take_persons(torch.from_numpy(seq.confidence), mp, fill=0.0)[None]
    with torch.no_grad():
        return enc(x.float(), torch.tensor([seq.num_frames]), conf)[0].numpy()


def _rows_text(c: S2IConfig) -> str:
    if c.layout == "parts":
        return (f"{c.image_persons} person block{'s' if c.image_persons > 1 else ''} × 5 body-part bands, each"
                " from the body outwards (e.g. shoulder at the top of an arm band, hand at the bottom)")
    return ("one row per joint, in the skeleton format's own joint order" if c.layout == "raw" else
            "one row per joint, in a fixed shuffled order")


# --- section 1: S2I images + skeletons ------------------------------------------------------------
def _section_images(sec: Section, ctx: _Ctx) -> None:
    from .animate import skeleton_gif
    from .figures import image_row_png

    if ctx.store is None:
        sec.note("Skipped: no store (pass --data STORE) — the sample sequences come from its test split.")
        return
    assert ctx.config is not None
    store, spec, c = ctx.store, ctx.store.format_spec, ctx.config
    sec.text(f"{len(ctx.sample_ids)} sequences of {store.manifest.get('dataset') or store.path.name}"
             f" ({'split ' + ctx.split + ', test part' if ctx.split else 'no split with a test part: all sequences'}),"
             f" format {spec.name}; images {c.height} × {c.width} px. Rows: {_rows_text(c)} (white lines: band"
             " boundaries, thick: persons); columns: time, the sequence's frames resampled to the image width."
             f" Channels: {_channels(store.dims)} of the stream's values after centring on the main person's centre"
             f" joint{' and view alignment' if store.dims == 3 else ''}, mapped to [0, 1] per channel with the value"
             " ranges below (lo → 0, hi → 1, clipped). The animation shows the skeleton after the same"
             " normalisation; bones are coloured by body part like the band names. A stream whose values vary"
             " little within one sequence (often the joint stream: the range covers the whole data set) looks"
             " nearly one colour; the second row shows each image contrast-stretched for your eyes only (each"
             " channel's 1st-99th percentile in this image spread over the full colour range; the stretched range"
             " is written under it). The model sees the first row.")
    encoders = {s: _stream_encoder(ctx, spec, s, store) for s in STREAMS}
    rows = []
    for s, (enc, source) in encoders.items():
        vr = enc.value_range
        rows.append([s, STREAM_WHAT[s], _fmt_range(vr[0]) if vr else "-", _fmt_range(vr[1]) if vr else "-", source])
    sec.table(["stream", "values", "lo (→ 0)", "hi (→ 1)", "range from"], rows)
    for k, i in enumerate(ctx.sample_ids):
        seq = store[i]
        name = _class_name(ctx, int(store.labels[i]))
        sec.heading(f"Sample {k + 1}: {name} (sequence {i}, {seq.num_frames} frames,"
                    f" {seq.num_persons} person{'s' if seq.num_persons > 1 else ''})")
        gif = Figure(skeleton_gif(seq, spec, ctx.path(f"sample{k + 1}_skeleton.gif")),
                     f"animated skeleton of sample {k + 1} ({name}), {spec.name}",
                     f"the skeleton moving, {seq.num_frames} frames"
                     f"{' (40 of them, evenly spaced)' if seq.num_frames > 40 else ''}; one scale for all views")
        images = [_encode_one(enc, seq) for enc, _ in encoders.values()]
        png = image_row_png(images, [f"{s} stream" for s in encoders], ctx.path(f"sample{k + 1}_streams.png"),
                            c.image_persons, bands=c.layout == "parts", time_axis=True, stretched="each")
        sec.figures([gif, Figure(png, f"S2I images of sample {k + 1} ({name}): joint, bone, motion and bone-motion"
                                      " streams, body-part bands labelled; below them the same images"
                                      " contrast-stretched for display",
                                 f"top: the four streams of sample {k + 1} exactly as the model sees them"
                                 f" ({_channels(store.dims)}; value ranges in the table above); bottom: the same"
                                 " images contrast-stretched per channel for display only")])
        ctx.log(f"sample {k + 1}/{len(ctx.sample_ids)}")


# --- section 2: two formats -----------------------------------------------------------------------
def _pair_range(ctx: _Ctx, a: SkeletonSequence, b: SkeletonSequence) -> tuple[tuple[list[float], list[float]], str]:
    """One value range for both images of a pair (so equal values look equal): the run's range of either
    format when it has one, else the union of the two sequences' own ranges."""
    from ..encode import estimate_value_range
    from ..formats import get_format

    assert ctx.config is not None
    cfg = ctx.config.model_copy(update={"stream": "joint", "range_lo": None, "range_hi": None})
    if ctx.config.stream == "joint":
        for seq in (a, b):
            if seq.format in ctx.ranges:
                return ctx.ranges[seq.format], f"the pretraining run's {seq.format} data-set range"
    ra = estimate_value_range(a.joints[None], get_format(a.format), cfg)
    rb = estimate_value_range(b.joints[None], get_format(b.format), cfg)
    lo = [min(x, y) for x, y in zip(ra[0], rb[0])]
    hi = [max(x, y) for x, y in zip(ra[1], rb[1])]
    return (lo, hi), "the union of the two sequences' own ranges"


def _section_formats(sec: Section, ctx: _Ctx, pairs: PairSource | None) -> None:
    from ..formats import get_format
    from .animate import skeleton_gif
    from .figures import image_row_png

    if pairs is None:
        sec.note("Skipped: this comparison needs the same motion recorded in two skeleton formats, which a run"
                 " folder does not hold; a report written from Python can be given such pairs (docs/guide.md,"
                 " Report).")
        return
    items = list(pairs() if callable(pairs) else pairs)
    if not items:
        sec.note("Skipped: no pairs of the same motion in two skeleton formats were given.")
        return
    assert ctx.config is not None
    sec.text("The same motion in two skeleton formats: each format's joints fill the same five body-part bands"
             " (shoulder at the top of an arm band, hand at the bottom), so the images line up even though the"
             " joint sets differ. Both images of a pair use one value range.")
    for k, (a, b) in enumerate(items):
        sec.heading(f"Pair {k + 1}: {a.format} ({a.num_joints} joints) vs {b.format} ({b.num_joints} joints)"
                    + (f" — {a.meta['label_name']}" if a.meta.get("label_name") else ""))
        (lo, hi), source = _pair_range(ctx, a, b)
        figs, images, titles = [], [], []
        for tag, seq in (("a", a), ("b", b)):
            spec = get_format(seq.format)
            figs.append(Figure(skeleton_gif(seq, spec, ctx.path(f"pair{k + 1}_{tag}.gif")),
                               f"animated skeleton, pair {k + 1}, format {spec.name}",
                               f"{spec.name}: {seq.num_joints} joints, {seq.num_frames} frames"))
            enc = S2IEncoder(spec, ctx.config.model_copy(update={"stream": "joint", "range_lo": None,
                                                                  "range_hi": None}))
            enc.set_value_range(lo, hi)
            images.append(_encode_one(enc, seq))
            titles.append(f"{spec.name} ({seq.num_joints} joints)")
        png = image_row_png(images, titles, ctx.path(f"pair{k + 1}_s2i.png"), ctx.config.image_persons,
                            bands=ctx.config.layout == "parts", time_axis=True, panel=(2.1, 2.6))
        figs.append(Figure(png, f"S2I images of pair {k + 1}: {a.format} and {b.format}, body-part bands labelled",
                           f"joint stream; {_channels(a.dims)}; both mapped to [0, 1] with {source}:"
                           f" lo {_fmt_range(lo)} → 0, hi {_fmt_range(hi)} → 1 (clipped)."))
        sec.figures(figs)


# --- section 3: MAE reconstructions ---------------------------------------------------------------
def _hidden_pixels(mask: np.ndarray, size: tuple[int, ...], patch: int) -> np.ndarray:
    """(H, W) True on the pixels of the MAE's hidden patches (``mask`` (L,), 1 = hidden, row-major patches)."""
    h, w = int(size[0]), int(size[1])
    grid = np.asarray(mask).reshape(h // patch, w // patch) > 0.5
    return np.repeat(np.repeat(grid, patch, 0), patch, 1)


def _section_mae(sec: Section, ctx: _Ctx) -> None:
    from .figures import image_row_png
    from .reconstruct import load_pretrain_module, reconstruct, run_checkpoint

    pre = ctx.inp.pretrain
    if pre is None or ctx.inp.provenance is None:
        sec.note("Skipped: no pretraining run (provenance.json) — reconstructions need its checkpoint.")
        return
    if run_checkpoint(pre) is None or not (pre / "config.yaml").is_file():
        sec.note(f"Skipped: {pre} has no saved model (checkpoints/last.ckpt) or no config.yaml, which the"
                 " reconstructions are drawn with.")
        return
    if ctx.store is None or not ctx.sample_ids:
        sec.note("Skipped: no store with sample sequences (pass --data STORE).")
        return
    module = load_pretrain_module(pre, ctx.inp.provenance)
    fmt = ctx.store.format_spec.name
    if fmt not in module.encoders:
        sec.note(f"Skipped: the run was pretrained on the skeleton format(s) {', '.join(sorted(module.encoders))},"
                 f" not on the store's format {fmt}.")
        return
    m = module.config.model
    batch = collate_sequences([ctx.store[i] for i in ctx.sample_ids], max_persons=module.config.encode.max_persons)
    conf = None if batch.confidence is None else torch.from_numpy(batch.confidence)
    rec = reconstruct(module, fmt, torch.from_numpy(batch.joints), torch.from_numpy(batch.lengths), confidence=conf)
    step = json.loads((pre / "metrics.json").read_text()).get("steps") if (pre / "metrics.json").is_file() else None
    unit = ("this run's model predicts each patch relative to the patch's own mean and spread (the MAE"
            " paper's normalised-pixel target), so its prediction is shown de-normalised with the target patch's"
            " own mean and standard deviation" if m.norm_pix_loss else "the model predicts the pixels directly")
    sec.text(f"The pretrained model (saved at {run_checkpoint(pre)}"
             f"{f', after {step} training steps' if step is not None else ''}) sees each sample with"
             f" {100 * m.mask_ratio:.0f} % of its {m.patch_size} × {m.patch_size} px patches hidden ({m.masking}"
             f" masking; the hidden patches drawn with seed 0) and fills them in. Dark grey patches are hidden;"
             f" the reconstruction shows the visible patches of the input and the predicted hidden ones; {unit}."
             " The second row shows the three images contrast-stretched for display with the original's range,"
             " so differences are visible; the model sees the first row.")
    per_patch = ", in units of each patch's spread" if m.norm_pix_loss else ", on the model's normalised pixels"
    figs = []
    for k, i in enumerate(ctx.sample_ids):
        name = _class_name(ctx, int(ctx.store.labels[i]))
        png = image_row_png([rec.original[k], rec.masked[k], rec.reconstructed[k]],
                            ["original", f"masked ({100 * rec.mask[k].mean():.0f} %)", "reconstructed"],
                            ctx.path(f"mae_sample{k + 1}.png"), module.config.encode.image_persons,
                            bands=module.config.encode.layout == "parts", stretched="first",
                            keep=[None, _hidden_pixels(rec.mask[k], rec.original.shape[-2:], m.patch_size), None])
        figs.append(Figure(png, f"MAE reconstruction of sample {k + 1} ({name}): original, masked, reconstructed;"
                                " below them the same contrast-stretched for display",
                           f"sample {k + 1} ({name}): error on the hidden patches {rec.loss[k]:.3f}"
                           f" (mean squared error{per_patch});"
                           " bottom row stretched for display only"))
    sec.figures(figs)


# --- section 4: curves, classes, t-SNE ------------------------------------------------------------
def _rel(ctx: _Ctx, path: str) -> str:
    try:
        return str(Path(path).parent.relative_to(ctx.inp.root)) or "."
    except ValueError:
        return str(Path(path).parent)


def _eval_curves(ctx: _Ctx) -> dict[str, list[tuple[str, list[float], list[float]]]]:
    """Per-epoch series the evaluations logged: fine-tune training loss, validation top-1 (linear/fine-tune)."""
    out: dict[str, list[tuple[str, list[float], list[float]]]] = {"train_loss": [], "val_top1": []}
    for r in ctx.inp.results:
        for method, per_stream in (("linear", r.training.linear), ("finetune", r.training.finetune)):
            for stream, recs in (per_stream or {}).items():
                for rec in recs:
                    label = f"{_rel(ctx, str(r.path))} {method} {stream} seed {rec.seed}"
                    for key, ys in rec.curves.items():
                        out[key].append((label, list(range(1, len(ys) + 1)), ys))
    return out


def _section_curves(sec: Section, ctx: _Ctx) -> None:
    from .figures import curves_png

    pre = ctx.inp.pretrain
    csv_path = pre / "loss_curve.csv" if pre is not None else None
    if csv_path is not None and csv_path.is_file():
        rows = [line.split(",") for line in csv_path.read_text().splitlines()[1:] if line.strip()]
        steps, loss = [int(r[0]) for r in rows], [float(r[1]) for r in rows]
        if steps:
            png = curves_png([("MAE loss", steps, loss)], ctx.path("pretrain_loss.png"), "training step",
                             "MAE loss (masked patches)", "pretraining loss")
            sec.figures([Figure(png, "pretraining loss by training step",
                                f"the error on the hidden patches during pretraining, {len(steps)} logged points;"
                                f" first {loss[0]:.3f}, last {loss[-1]:.3f}")])
        else:
            sec.note(f"Skipped: {csv_path} has no logged steps.")
    else:
        sec.note("Skipped: no pretraining loss curve (loss_curve.csv of a pretraining run).")
    curves = _eval_curves(ctx)
    figs = []
    if curves["train_loss"]:
        figs.append(Figure(curves_png(curves["train_loss"], ctx.path("eval_train_loss.png"), "epoch",
                                      "training loss", "evaluation training loss", legend=True),
                           "evaluation training loss by epoch", "training loss per epoch (fine-tuning)"))
    if curves["val_top1"]:
        figs.append(Figure(curves_png(curves["val_top1"], ctx.path("eval_val_top1.png"), "epoch",
                                      "validation top-1 (%)", "evaluation validation accuracy", legend=True),
                           "evaluation validation top-1 by epoch",
                           "top-1 on the validation carve of the training data, per epoch"))
    if figs:
        sec.figures(figs)
    else:
        sec.note("No evaluation curves: only fine-tuning, and a linear probe that holds out part of the training"
                 " data for validation, record their progress per epoch; this run's evaluations did neither"
                 " (k-NN does not train at all).")


def _result_title(ctx: _Ctx, r: RunRecord) -> str:
    return f"{r.protocol} · {r.init or '?'} · {r.dataset} {r.split} · {r.stream} ({_rel(ctx, str(r.path))})"


def _section_classes(sec: Section, ctx: _Ctx) -> None:
    from .figures import confusion_png, per_class_png

    results = [r for r in ctx.inp.results if r.confusion_matrix]
    if not results:
        sec.note("Skipped: no results.json with a confusion matrix below the run (evaluate into the run folder:"
                 " s2i eval linear --checkpoint RUN/encoder --data STORE --out RUN/eval/linear).")
        return
    for k, r in enumerate(results):
        cm = r.confusion_matrix or []
        names = list(r.class_names or [])
        if len(names) != len(cm):
            names = [_class_name(ctx, i) for i in range(len(cm))]
        title = _result_title(ctx, r)
        sec.heading(title)
        cm_png = confusion_png(cm, names, ctx.path(f"confusion_{k + 1}.png"), f"confusion ({r.protocol},"
                               f" {r.init or '?'})")
        figs = [Figure(cm_png, f"confusion matrix, {title}",
                       f"rows: the true class, columns: the predicted one; colour: the fraction of the true"
                       f" class's test sequences predicted as that column (the diagonal is correct);"
                       f" {int(np.sum(cm))} test predictions"
                       f"{' over all seeds' if len(r.seeds) > 1 else ''}")]
        if r.per_class_top1:
            pc = per_class_png(r.per_class_top1, names, ctx.path(f"per_class_{k + 1}.png"),
                               f"per-class top-1 ({r.protocol}, {r.init or '?'})", r.top1)
            figs.append(Figure(pc, f"per-class top-1 accuracy, {title}",
                               "per class, the % of its test sequences predicted correctly; n/a: the class has no"
                               " test sequence"))
        sec.figures(figs)


def _tsne(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """2D t-SNE of features. One thread: scikit-learn's OpenMP loop next to torch's own OpenMP runtime is
    many times slower than single-threaded (7 s instead of 0.2 s for 20 points on 2 cores)."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    n = features.shape[0]
    perplexity = float(min(30.0, max(2.0, (n - 1) / 3.0)))
    with threadpool_limits(limits=1):
        return np.asarray(TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                               max_iter=500).fit_transform(features))


def _encoder_folder(ctx: _Ctx) -> Path | None:
    pre = ctx.inp.pretrain
    from ..models.export import is_export

    if pre is not None and is_export(pre / "encoder"):
        return pre / "encoder"
    for r in ctx.inp.results:
        path = r.checkpoint.path if r.checkpoint else None
        if r.init == "pretrained" and path and is_export(path):
            return Path(path)
    return None


def _section_tsne(sec: Section, ctx: _Ctx, max_points: int = 1000) -> None:
    from ..evaluation.features import encoder_for_store, extract_features, load_checkpoint
    from ..models.optim import resolve_device
    from .figures import tsne_png

    folder = _encoder_folder(ctx)
    if folder is None:
        sec.note("Skipped: no trained encoder (the encoder/ folder a pretraining run writes) to compute the"
                 " features with.")
        return
    if ctx.store is None or ctx.split is None:
        sec.note("Skipped: no store with a test split (pass --data STORE).")
        return
    ids = ctx.store.split_ids(ctx.split, "test")
    if len(ids) < 5:
        sec.note(f"Skipped: only {len(ids)} test sequences; t-SNE needs at least 5.")
        return
    if len(ids) > max_points:
        ids = np.sort(np.random.default_rng(0).choice(ids, max_points, replace=False))
    randoms = [r for r in ctx.inp.results if r.init == "random"]
    inits = [("pretrained", 0)] + ([("random", randoms[0].init_seed)]
                                   if randoms else [])
    panels = []
    for init, seed in inits:
        ckpt = load_checkpoint(folder, init, seed)
        enc = encoder_for_store(ckpt, ctx.store, ctx.split, "joint")
        feats = extract_features(ckpt.model, enc, ctx.store, ids, device=resolve_device("auto"),
                                 progress=ctx.progress).numpy()
        panels.append((f"{init} encoder" + (f" (seed {seed})" if init == "random" else ""), _tsne(feats)))
        ctx.log(f"t-SNE {init}")
    labels = ctx.store.labels[ids].astype(np.int64)
    k = int(labels.max()) + 1
    names = [_class_name(ctx, i) for i in range(max(k, len(ctx.class_names)))]
    png = tsne_png(panels, labels, names, ctx.path("tsne.png"))
    side = "; right: the same network with random weights, for comparison" if len(panels) > 1 else \
        " (no random-weights evaluation below the run, so no comparison panel)"
    sec.figures([Figure(png, "t-SNE of test-set features coloured by class" + (", pretrained vs random init"
                                                                                if len(panels) > 1 else ""),
                        f"each point is one of {len(ids)} test sequences (split {ctx.split}, joint stream),"
                        f" placed by t-SNE so that sequences the encoder describes alike lie close together;"
                        f" colour and marker shape: the true class."
                        f" {'Left: the' if len(panels) > 1 else 'The'} pretrained encoder{side}."
                        " Classes that form their own clusters are ones the encoder tells apart without"
                        " training on labels.")])


# --- section 5: results and provenance ------------------------------------------------------------
def _num(v: Any) -> str:
    return f"{v:.2f}" if isinstance(v, (int, float)) else ""


def _section_results(sec: Section, ctx: _Ctx) -> None:
    for error in ctx.inp.result_errors:
        sec.note(f"Unreadable: {error}")
    if not ctx.inp.results:
        sec.note("Skipped: no results.json below the run.")
        return
    rows = []
    for r in ctx.inp.results:
        agg = r.top1_seeds
        top1 = _num(r.top1) + (f" ± {agg.std:.2f}" if agg is not None and agg.n > 1 else "")
        rows.append([_rel(ctx, str(r.path)), r.protocol, r.init or "", r.dataset, r.split, r.stream, top1,
                     _num(r.top5), "" if r.num_test_samples is None else r.num_test_samples,
                     ",".join(map(str, r.seeds))])
    sec.table(["results", "protocol", "init", "data set", "split", "stream", "top-1 %", "top-5 %", "test samples",
               "seeds"], rows, numeric={6, 7, 8})


def _short(digest: Any) -> str:
    """A hash cut to 12 hex digits for tables (the full one is in the collapsible JSON)."""
    text = str(digest or "")
    head, _, tail = text.rpartition(":")
    return f"{head}:{tail[:12]}…" if len(tail) > 16 else text


def _device_cell(dev: dict[str, Any]) -> str:
    """The GPU name, else the root device with its CPU and thread count."""
    return dev.get("gpu") or (f"{dev.get('root_device', '?')} ({dev.get('cpu', '?')},"
                              f" {dev.get('cpu_threads', '?')} threads)")


def _pretraining_rows(ctx: _Ctx, prov: dict[str, Any]) -> list[list[Any]]:
    """The pretraining run's item/value rows: run, seed, device, packages and one row per store."""
    dev = prov.get("device") or {}
    stores = prov.get("stores") or []
    return [
        ["pretraining run", str(ctx.inp.pretrain)], ["seed", prov.get("seed")], ["device", _device_cell(dev)],
        ["world size", dev.get("world_size", "")], ["precision", dev.get("precision", "")],
        ["packages", ", ".join(f"{k} {v}" for k, v in (prov.get("packages") or {}).items())],
        *[[f"store {i + 1}", f"{s.get('path')} ({s.get('format')}, split {s.get('split')}, {s.get('items')}"
           f" items, {_short(s.get('content_hash'))})"] for i, s in enumerate(stores)]]


def _pretraining_provenance(sec: Section, ctx: _Ctx) -> None:
    """The pretraining run's provenance table and its config, provenance and metrics files, collapsed."""
    prov = ctx.inp.provenance
    if prov is None:
        sec.note("Skipped (pretraining): no provenance.json.")
        return
    sec.table(["item", "value"], _pretraining_rows(ctx, prov))
    if ctx.inp.config_text is not None:
        sec.details("config.yaml (pretraining)", ctx.inp.config_text)
    sec.details("provenance.json (pretraining)", json.dumps(prov, indent=1))
    metrics = ctx.inp.pretrain / "metrics.json" if ctx.inp.pretrain else None
    if metrics is not None and metrics.is_file():
        sec.details("metrics.json (pretraining)", metrics.read_text())


def _results_provenance(sec: Section, ctx: _Ctx) -> None:
    """One row per readable results.json (seeds, hashes, device, versions, time), then each one's provenance."""
    ok = ctx.inp.results
    if ok:
        sec.table(["results", "seeds", "data hash", "checkpoint hash", "device", "versions", "wall time (s)"],
                  [[_rel(ctx, str(r.path)), ",".join(map(str, r.seeds)),
                    ", ".join(f"{k}: {_short(v)}" for k, v in (r.data_hashes or {}).items()),
                    _short(r.checkpoint_hash), r.device or "",
                    ", ".join(f"{k} {v}" for k, v in (r.environment.versions if r.environment else {}).items()),
                    "" if r.wall_time_s is None else r.wall_time_s] for r in ok])
    for r in ok:
        saved = r.dump()
        keep = {k: saved.get(k) for k in ("seeds", "data_hashes", "checkpoint_hash", "hyperparameters", "config",
                                          "environment", "device", "wall_time_s", "version")}
        sec.details(f"provenance of {_rel(ctx, str(r.path))}/results.json", json.dumps(keep, indent=1, default=str))


def _section_provenance(sec: Section, ctx: _Ctx) -> None:
    """Where the numbers come from: the pretraining run, then each evaluation's results.json."""
    _pretraining_provenance(sec, ctx)
    _results_provenance(sec, ctx)


# --- the page --------------------------------------------------------------------------------------
def _guard(sec: Section, ctx: _Ctx, fn: Callable[..., None], *args: Any) -> None:
    """Run one section; an unexpected failure becomes a visible note (the rest of the report still comes)."""
    try:
        fn(sec, ctx, *args)
    except Exception as e:  # noqa: BLE001 - a report shows what it can and says what failed
        sec.error(f"This section failed: {type(e).__name__}: {e}")
        ctx.log(f"section {sec.title!r} failed: {type(e).__name__}: {e}")


def _check_page(out: Path) -> None:
    """``out`` must name a file, and an existing one must be an s2i report page (never another file)."""
    if out.name in ("", ".", "..") or out.is_dir():
        raise OutputError(f"--out {out} is a folder, not the HTML file to write (e.g. --out"
                          f" {out / 'report.html'})")
    if not os.path.lexists(out):
        return
    head = ""
    if out.is_file() and not out.is_symlink():
        with open(out, "rb") as fh:
            head = fh.read(4096).decode("utf-8", "replace")
    if GENERATOR not in head and "<title>s2i report: " not in head:  # the title: pages before the marker
        raise OutputError(f"--out {out} exists and is not an s2i report page; refusing to replace it (choose"
                          " another file name)")


def _clear_images(folder: Path) -> None:
    """Empty our image folder of its images and of any symlink (removed itself, never followed), then mark it."""
    if folder.is_dir():
        for f in folder.iterdir():
            if f.is_symlink() or (f.suffix.lower() in (".png", ".gif") and f.is_file()):
                f.unlink()
    mark_output(folder, "report-files")


def write_report(run: Path, out: Path | None = None, *, data: Path | None = None, samples: int = 4,
                 progress: bool = True, two_format_pairs: PairSource | None = None) -> Path:
    """Write the report of ``run`` (a pretraining run folder, or a folder holding ``pretrain/`` and
    evaluation results below it) to ``out`` (default ``RUN/report.html``), with its images in
    ``<out stem>_files/`` beside it; returns the page's path.

    ``data``: the store to draw sample sequences and t-SNE features from (default: the run's first store).
    ``samples``: how many test sequences to show. ``two_format_pairs``: pairs (or a callable returning
    pairs) of the same motion in two skeleton formats, shown side by side.
    """
    from .. import __version__
    from ..atomic import atomic_path

    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    run = Path(run)
    out = Path(out) if out is not None else run / "report.html"
    _check_page(out)
    files = out.with_name(out.stem + "_files")
    claim_output(files, "report-files", [("RUN", run), ("--data", data)], flag=f"--out {out}: its image folder",
                 inside_ok=True)
    ctx = _Ctx(discover(run, data, skip=(files,)), files, samples, progress)
    _clear_images(files)
    _prepare(ctx)
    page = Page(f"s2i report: {run.resolve().name}")
    page.meta.append(f"Run {run.resolve()} · written {time.strftime('%Y-%m-%d %H:%M:%S %z')} by s2i {__version__}")
    page.meta.append(f"Store: {ctx.inp.store} ({ctx.inp.store_source})" if ctx.inp.store else
                     f"Store: none — {'; '.join(ctx.inp.notes)}")
    sections: list[tuple[str, str, Callable[..., None], tuple[Any, ...]]] = [
        ("s2i-images", "1. S2I images and skeletons, per stream", _section_images, ()),
        ("two-formats", "2. One motion, two skeleton formats", _section_formats, (two_format_pairs,)),
        ("mae", "3. MAE reconstructions", _section_mae, ()),
        ("curves", "4a. Training curves", _section_curves, ()),
        ("classes", "4b. Confusion matrices and per-class accuracy", _section_classes, ()),
        ("tsne", "4c. t-SNE of test-set features", _section_tsne, ()),
        ("results", "5a. Results", _section_results, ()),
        ("provenance", "5b. Provenance", _section_provenance, ()),
    ]
    for sid, title, fn, args in sections:
        ctx.log(title)
        _guard(page.section(sid, title), ctx, fn, *args)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(page.html(), encoding="utf-8")
    ctx.log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {files}/")
    return out

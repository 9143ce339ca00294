"""The model card (``README.md``) of an exported encoder, as the Hugging Face Hub shows it: what the model is,
how to load it, the data it was trained on, its config, the pretraining protocol and any evaluation results.

Written from the folder's ``config.json`` (and results.json dicts given later, e.g. before a push), so a card
never says more than the files do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

__all__ = ["model_card", "one_line_results"]

_ENCODE_KEYS = ("height", "width", "stream", "persons", "max_persons", "value_range", "part_resample",
                "time_resample", "center", "rotate", "scale")


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _data(info: Mapping[str, Any]) -> list[str]:
    stores = info.get("stores") or []
    if stores:
        lines = [_row("store", "format", "split (training part)", "sequences", "content hash"),
                 _row("---", "---", "---", "---:", "---")]
        lines += [_row(s.get("path", "?"), s.get("format", "?"), s.get("split", "?"), s.get("items", "?"),
                       f"`{s.get('content_hash', '?')}`") for s in stores]
        return lines
    if info.get("datasets"):
        return [f"Data sets: {', '.join(map(str, info['datasets']))} (no pretraining: random weights)."]
    return ["Not recorded."]


def _config(meta: Mapping[str, Any]) -> list[str]:
    kw = ", ".join(f"{k}={v}" for k, v in (meta.get("backbone_kwargs") or {}).items()) or "timm's defaults"
    img = meta.get("img_size", ["?", "?"])
    lines = [f"- backbone: timm `{meta.get('backbone')}` ({kw}), {img[0]} x {img[1]} images, patch"
             f" {meta.get('patch_size')}, {meta.get('embed_dim')}-dim features",
             f"- input normalisation: mean {meta.get('mean')}, std {meta.get('std')}"]
    for name, desc in (meta.get("formats") or {}).items():
        cfg = desc.get("config", {})
        opts = ", ".join(f"{k}={cfg[k]}" for k in _ENCODE_KEYS if k in cfg)
        vr = desc.get("value_range")
        rng = f"; value range lo {vr.get('lo')}, hi {vr.get('hi')}" if isinstance(vr, dict) and vr.get("lo") else ""
        joints = len(desc.get("format", {}).get("joints", [])) or "?"
        lines.append(f"- S2I encoder for `{name}` ({joints} joints): {opts}{rng}")
    return lines


def _protocol(info: Mapping[str, Any]) -> list[str]:
    if info.get("init") == "random":
        return [f"None: the architecture with random weights (seed {info.get('seed')}), the baseline of every"
                " protocol."]
    init = info.get("init")
    init = init if isinstance(init, Mapping) else {}
    start = init.get("location") or init.get("source") or "random initialisation"
    lines = [f"Masked-autoencoder pretraining on the S2I images (docs/S2I.md 8), from {start}:"
             f" {info.get('step', '?')} optimizer steps, final loss {_num(info.get('final_loss'))}."]
    if info.get("finetuned"):
        lines.append("Then fine-tuned end to end with a classification head (the head is not part of the"
                     " encoder).")
    if info.get("run"):
        lines.append(f"Run folder: `{info['run']}` (config.yaml, provenance.json and metrics.json there).")
    return lines


def _num(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) else "?"


def _results(results: Iterable[Mapping[str, Any]]) -> list[str]:
    rows = list(results)
    if not rows:
        return ["No evaluation results yet. Measure them with, e.g., `s2i eval linear --checkpoint FOLDER"
                " --data STORE --out DIR` (also `knn`, `finetune`, `semi`); the results.json files it writes"
                " can be added to this card (`s2i.models.hub.push_to_hub(..., results=[...])`)."]
    lines = [_row("protocol", "data set", "split", "stream", "weights", "top-1 %", "top-5 %", "test samples"),
             _row("---", "---", "---", "---", "---", "---:", "---:", "---:")]
    for r in rows:
        seeds = r.get("top1_seeds") or {}
        top1 = f"{r.get('top1', float('nan')):.1f}"
        if seeds.get("n", 1) > 1:
            top1 += f" ± {seeds.get('std', 0.0):.1f} ({seeds['n']} seeds)"
        lines.append(_row(r.get("protocol"), r.get("dataset"), r.get("split"), r.get("stream"), r.get("init"),
                          top1, f"{r.get('top5', float('nan')):.1f}", r.get("num_test_samples")))
    lines.append("")
    lines.append("Each cell is the last epoch on the whole official test split; the results.json files hold the"
                 " protocol's hyperparameters, seeds and data hashes.")
    return lines


def _bundle(bundle: Mapping[str, Any]) -> list[str]:
    """The sections of a bundled encoder's card (its bundle.json): training data, config, hashes, results."""
    lines = ["## Training data (training splits only)", "",
             _row("data set", "store", "format", "split", "part used", "sequences", "content hash"),
             _row("---", "---", "---", "---", "---", "---:", "---")]
    lines += [_row(d.get("dataset"), d.get("path"), d.get("format"), d.get("split"), d.get("subset"), d.get("items"),
                   f"`{d.get('content_hash')}`") for d in bundle.get("trained_on") or []]
    sched = bundle.get("schedule") or {}
    lines += ["", "No test sequence of any store in the results below was used in pretraining: checked against"
              " each store's split when the bundle was made.", "",
              "## Pretraining", "",
              f"- {bundle.get('steps')} optimizer steps of {sched.get('total_batch', '?')} sequences (warm-up"
              f" {sched.get('warmup_steps', '?')}, peak lr {sched.get('peak_lr', '?')}), final loss"
              f" {_num(bundle.get('final_loss'))}", f"- command: `{bundle.get('pretrain_command')}`",
              "- config (the run's config.yaml):", "", "```yaml",
              yaml.safe_dump(bundle.get("config") or {}, sort_keys=False).rstrip(), "```", "",
              "## Hashes", ""]
    hashes = bundle.get("hashes") or {}
    lines += [f"- {k.replace('_', ' ')}: `{v}`" for k, v in hashes.items() if k != "stores"]
    lines += [f"- store {p}: `{h}`" for p, h in (hashes.get("stores") or {}).items()]
    lines += ["", "## Regenerate", "", "```", str(bundle.get("command")), "```", "",
              "## Results", "",
              _row("data set", "split", "protocol", "weights", "top-1 %", "95 % interval", "seeds", "n test"),
              _row("---", "---", "---", "---", "---:", "---", "---", "---:")]
    for r in bundle.get("results") or []:
        lo, hi = r.get("wilson95") or ("?", "?")
        lines.append(_row(r.get("dataset"), r.get("split"), r.get("protocol_text"), r.get("init"),
                          f"{r.get('top1'):.1f} ± {r.get('std'):.1f}", f"{lo}–{hi}",
                          ", ".join(map(str, r.get("seeds") or [])), r.get("n")))
    lines += ["", "Top-1 on the whole official test split of each store, last epoch, mean ± std over the seeds"
              " (probe seeds; for random weights also the weights' seed); interval: 95 % Wilson interval of the"
              " mean on n test sequences. Random: this architecture with random weights, the baseline.", ""]
    return lines


def one_line_results(bundle: Mapping[str, Any]) -> str:
    """The results of a bundle in one line: per data set, linear and kNN top-1 of the bundled (vs random) weights."""
    cells: dict[tuple[str, str], dict[str, float]] = {}
    for r in bundle.get("results") or []:
        cells.setdefault((str(r.get("dataset")), str(r.get("protocol"))), {})[str(r.get("init"))] = float(r["top1"])
    out = [f"{ds} {proto} {v.get('pretrained', float('nan')):.1f}" + (f" (random {v['random']:.1f})" if "random" in v
                                                                        else "") for (ds, proto), v in cells.items()]
    return "; ".join(out) or "no results"


def model_card(meta: Mapping[str, Any], results: Iterable[Mapping[str, Any]] = (), name: str | None = None,
               bundle: Mapping[str, Any] | None = None) -> str:
    """The README.md text of an exported encoder described by ``meta`` (its config.json), with ``results``
    (results.json dicts) in a table. ``name``: how to load it (a Hub id ``ORG/NAME``, a bundled name, or a
    folder). ``bundle``: a bundled encoder's bundle.json, whose sections replace the data and results ones."""
    info = meta.get("info") or {}
    formats = list((meta.get("formats") or {}).keys())
    where = f"hf-hub:{name}" if name and "/" in name and not name.startswith(("/", ".")) else (name or "FOLDER")
    front = ["---", "library_name: s2i", "pipeline_tag: feature-extraction",
             "tags:", "- skeleton-action-recognition", "- s2i", "- timm", "- vision-transformer", "---", ""]
    body = [f"# S2I skeleton encoder: {meta.get('backbone')} for {', '.join(formats) or '?'}", "",
            "A vision transformer that reads skeleton sequences through Skeleton-to-Image (S2I) encoding: joints"
            " grouped by body part into bands of image rows, time along the columns. The S2I encoders that make"
            " its input images (format, options, value range) travel with the weights in `config.json`.", "",
            "## Use", "", "```python", "import s2i", "",
            f'model = s2i.load_encoder("{where}")',
            "vectors = model.embed(sequences)   # one feature vector per skeleton sequence (any supported format)",
            "tokens = model.tokens(sequences)   # patch tokens", "```", "",
            "`model.safetensors` is also the timm backbone's state dict (no classifier head).", "",
            "## Data", "", *_data(info), "",
            "## Config", "", *_config(meta), "",
            "## Pretraining protocol", "", *_protocol(info), "",
            "## Results", "", *_results(results), ""]
    if bundle is not None:
        body = body[:body.index("## Data")] + [f"Bundled with s2i as `{bundle.get('name')}`: loads offline.", "",
                                               *_bundle(bundle), "## Encoder", "", *_config(meta), ""]
    return "\n".join(front + body)

"""Pretraining's schedule, optimiser groups, resume choice and counters, and where its value ranges come from
(issue 36): values pinned at chosen steps and on hand-made folders, not thresholds."""

from __future__ import annotations

import os
import zipfile
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tiny import tiny_config

from s2i.encode import dataset_value_range
from s2i.models.optim import warmup_cosine
from s2i.skeleton import SkeletonSequence
from s2i.store import SkeletonStore, StoreWriter
from s2i.testing.synthetic import synthetic_ntu
from s2i.training.datamodule import PretrainData, training_split
from s2i.training.fit import find_resume_checkpoint
from s2i.training.pretrain_module import MAEPretrainModule


# --- the schedule ---------------------------------------------------------------------------------------
def test_warmup_cosine_at_chosen_steps():
    """Linear warm-up over steps 0..warmup-1 reaching 1 on its last step, cosine from 1 at ``warmup`` to
    ``min_ratio`` at ``total``, flat after."""
    w, t, lo = 4, 12, 0.1
    assert warmup_cosine(0, w, t, lo) == pytest.approx(0.25)
    assert warmup_cosine(1, w, t, lo) == pytest.approx(0.5)
    assert warmup_cosine(w - 1, w, t, lo) == pytest.approx(1.0)
    assert warmup_cosine(w, w, t, lo) == pytest.approx(1.0)
    assert warmup_cosine(6, w, t, lo) == pytest.approx(lo + (1 - lo) * 0.5 * (1 + np.cos(np.pi * 0.25)))
    assert warmup_cosine(8, w, t, lo) == pytest.approx(0.55)  # half way through the cosine
    assert warmup_cosine(t, w, t, lo) == pytest.approx(lo)
    assert warmup_cosine(t + 5, w, t, lo) == pytest.approx(lo)
    assert warmup_cosine(0, 0, 10) == pytest.approx(1.0)  # no warm-up: the cosine starts at once
    assert warmup_cosine(5, 0, 10) == pytest.approx(0.5)
    assert warmup_cosine(10, 0, 10) == pytest.approx(0.0)


def _module(*extra: str, total: int = 10, warmup: int = 3, total_batch: int = 32) -> MAEPretrainModule:
    from s2i.formats import get_format

    cfg = tiny_config(*extra)
    torch.manual_seed(0)
    return MAEPretrainModule(cfg, {"ntu25": (get_format("ntu25"), ([-1.0] * 3, [1.0] * 3))}, total_steps=total,
                             warmup_steps=warmup, total_batch=total_batch)


def test_optimiser_groups_lr_scaling_and_the_scheduler_steps():
    """AdamW with the peak lr base_lr x total batch / 256; weight decay on matrices only (MAE): not on biases,
    norms, the class token, the position embedding or the mask token; the scheduler is the warm-up cosine of
    the module's own warm-up and total, stepped per optimizer step."""
    m = _module("optim.base_lr=0.04", "optim.weight_decay=0.3", "optim.min_lr_ratio=0.2", "optim.betas=[0.8,0.9]",
                total=10, warmup=3, total_batch=64)
    assert m.lr == pytest.approx(0.04 * 64 / 256)
    conf = m.configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    assert conf["lr_scheduler"]["interval"] == "step"
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["betas"] == (0.8, 0.9)
    names = {id(p): n for n, p in m.mae.named_parameters()}
    decay, no_decay = ({names[id(p)] for p in g["params"]} for g in opt.param_groups)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.3, 0.0]
    assert decay | no_decay == set(names.values()) and not decay & no_decay
    assert {"backbone.cls_token", "backbone.pos_embed", "mask_token", "backbone.norm.weight", "backbone.norm.bias",
            "backbone.blocks.0.attn.qkv.bias", "decoder_embed.bias"} <= no_decay
    assert {"backbone.patch_embed.proj.weight", "backbone.blocks.0.attn.qkv.weight", "backbone.blocks.0.mlp.fc1.weight",
            "decoder_embed.weight", "decoder_pred.weight"} <= decay
    assert all(names[id(p)] in no_decay for p in m.mae.parameters() if p.ndim <= 1)
    peak = 0.04 * 64 / 256
    seen = []
    for _ in range(12):
        seen.append(opt.param_groups[0]["lr"])
        assert opt.param_groups[1]["lr"] == seen[-1]
        opt.step()
        sched.step()
    expected = [peak * warmup_cosine(s, 3, 10, 0.2) for s in range(12)]
    assert seen == pytest.approx(expected)
    assert seen[:4] == pytest.approx([peak / 3, 2 * peak / 3, peak, peak])
    assert seen[10] == pytest.approx(0.2 * peak)


# --- resume: which checkpoint, and the counters afterwards ---------------------------------------------
def _ckpt(path, mtime: float, whole: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", b"x" * 200)
    if not whole:
        path.write_bytes(path.read_bytes()[:120])  # a write cut short by a kill
    os.utime(path, (mtime, mtime))


def test_resume_picks_the_newest_whole_checkpoint(tmp_path):
    run = tmp_path / "run"
    assert find_resume_checkpoint(run) is None  # no checkpoints folder
    ck = run / "checkpoints"
    _ckpt(ck / "step0000003.ckpt", 1000)
    _ckpt(ck / "last.ckpt", 1000)
    assert find_resume_checkpoint(run).name == "step0000003.ckpt"  # same time: the numbered one wins over last
    _ckpt(ck / "step0000006.ckpt", 2000)
    _ckpt(ck / "last.ckpt", 2000)
    assert find_resume_checkpoint(run).name == "step0000006.ckpt"  # the newer step, not the first or oldest
    _ckpt(ck / "last.ckpt", 3000)
    assert find_resume_checkpoint(run).name == "last.ckpt"  # newest by time
    _ckpt(ck / "step0000009.ckpt", 4000, whole=False)
    assert find_resume_checkpoint(run).name == "last.ckpt"  # the newest is cut short: skipped
    _ckpt(ck / "step0000012.ckpt", 4500)
    raw = bytearray((ck / "step0000012.ckpt").read_bytes())
    raw[raw.index(b"x" * 200) + 7] ^= 0xFF  # a flipped byte inside a member: the zip opens, its CRC fails
    (ck / "step0000012.ckpt").write_bytes(bytes(raw))
    os.utime(ck / "step0000012.ckpt", (4500, 4500))
    assert find_resume_checkpoint(run).name == "last.ckpt"
    for p in ck.glob("*.ckpt"):
        _ckpt(p, 5000, whole=False)
    assert find_resume_checkpoint(run) is None


# --- the data: training split, value ranges, steps -------------------------------------------------------
def _store(path, scale_test: float = 1.0, scale: float = 1.0, n: int = 8, splits=None) -> SkeletonStore:
    """n NTU sequences; the last two (the test part) scaled by ``scale_test``, all by ``scale``."""
    with StoreWriter(path, "ntu25", 3, 25) as w:
        for i in range(n):
            j = synthetic_ntu(1, 20, 1, seed=i)[0] * scale * (scale_test if i >= n - 2 else 1.0)
            w.append(SkeletonSequence(j.astype(np.float32), "ntu25", meta={"label": i % 2}))
        default = {"xsub": {"train": list(range(n - 2)), "test": [n - 2, n - 1]}}
        w.finalize(splits if splits is not None else default, {"num_classes": 2}, {})
    return SkeletonStore(path)


def test_training_split_is_the_given_one_else_the_first_with_a_train_part(tmp_path):
    st = _store(tmp_path / "s", splits={"b": {"train": [0, 1, 2, 3, 4, 5], "test": [6, 7]},
                                        "a": {"test": [0, 1]}, "c": {"train": [0, 1], "test": [2]}})
    assert training_split(st, None) == "b"  # "a" has no train part; "b" before "c"
    assert training_split(st, "c") == "c"
    with pytest.raises((KeyError, ValueError), match="nope"):
        training_split(st, "nope")
    bare = _store(tmp_path / "bare", splits={})
    assert training_split(bare, None) is None
    # the first by name, not by the order of the store's mapping (written sorted, but a reader need not be)
    unsorted = SimpleNamespace(splits={"c": {"train": [0]}, "b": {"train": [1]}, "a": {"test": [2]}})
    assert training_split(unsorted, None) == "b"  # type: ignore[arg-type]


def test_value_ranges_come_from_the_training_split_and_join_over_stores_of_a_format(tmp_path):
    """Each store's range is its training part's (test sequences 10x larger do not move it); two stores of one
    format share the union of their ranges (min of lo, max of hi), recorded per store in the info."""
    a = _store(tmp_path / "a", scale_test=10.0)
    b = _store(tmp_path / "b", scale=3.0)
    cfg = tiny_config()
    dm = PretrainData([a.path, b.path], cfg.data, cfg.encode, seed=0)
    ra, rb = (dataset_value_range(s, "xsub", cfg.encode) for s in (a, b))
    everything = dataset_value_range(a, None, cfg.encode)
    assert dm.info[0].value_range == ra and dm.info[1].value_range == rb
    assert ra != everything and max(everything[1]) > 2 * max(ra[1])  # the test part would have widened it
    assert [i.split for i in dm.info] == ["xsub", "xsub"] and [i.items for i in dm.info] == [6, 6]
    lo, hi = dm.format_ranges()["ntu25"]
    assert lo == [min(x, y) for x, y in zip(ra[0], rb[0])] and hi == [max(x, y) for x, y in zip(ra[1], rb[1])]
    assert (lo, hi) != tuple(ra)  # b's range holds a's: the union is b's whichever store comes first or last
    back = PretrainData([b.path, a.path], cfg.data, cfg.encode, seed=0).format_ranges()["ntu25"]
    assert back == (lo, hi)
    assert list(dm.format_specs()) == ["ntu25"]


def test_steps_per_epoch_and_the_resume_position(tmp_path):
    """Steps per pass = ceil(training items / (batch x world x accumulation)); a resumed loader starts after
    global_step x accumulation batches."""
    a = _store(tmp_path / "a", n=24)  # 22 training items
    cfg = tiny_config("data.batch_size=4")
    dm = PretrainData([a.path], cfg.data, cfg.encode, seed=0, accumulate=2)
    assert len(dm.dataset) == 22
    assert dm.steps_per_epoch(1) == 3 and dm.steps_per_epoch(2) == 2 and dm.steps_per_epoch(4) == 1
    assert PretrainData([a.path], cfg.data, cfg.encode, seed=0).steps_per_epoch(1) == 6
    assert dm._start() == 0
    dm.trainer = SimpleNamespace(global_step=5)  # type: ignore[assignment]
    assert dm._start() == 10


def test_a_run_in_epochs_converts_warmup_and_length_to_steps_and_logs_that_schedule(tmp_path):
    """10 training items, batch 4 x accumulation 2 = 8 per step: 2 steps per epoch, 2.25 epochs = 5 steps (4.5
    rounded up),
    1.4 warm-up epochs = 3 steps (rounded), peak lr 0.05 x 8 / 256; the lr logged at each step is the peak
    times the warm-up cosine of those steps."""
    import csv
    import json

    from tiny import ntu_store

    from s2i.training.fit import pretrain

    store = ntu_store(tmp_path / "ntu")
    cfg = tiny_config(f"data.stores=[{store}]", "trainer.accumulate_grad_batches=2", "optim.max_steps=null",
                      "optim.epochs=2.25", "optim.warmup_steps=null", "optim.warmup_epochs=1.4",
                      "optim.min_lr_ratio=0.1", "trainer.checkpoint_every=100")
    run = pretrain(cfg, None, tmp_path / "run")
    sched = json.loads((run / "provenance.json").read_text())["schedule"]
    peak = 0.05 * 8 / 256
    assert sched == {"total_steps": 5, "warmup_steps": 3, "steps_per_epoch": 2, "total_batch": 8,
                     "peak_lr": pytest.approx(peak)}
    with open(run / "logs" / "version_0" / "metrics.csv", newline="") as fh:
        lr = {int(r["step"]): float(r["train/lr"]) for r in csv.DictReader(fh) if r.get("train/lr")}
    assert sorted(lr) == [0, 1, 2, 3, 4]
    assert [lr[s] for s in range(5)] == pytest.approx([peak * warmup_cosine(s, 3, 5, 0.1) for s in range(5)], rel=1e-6)
    assert lr[2] == pytest.approx(peak) and lr[4] == pytest.approx(peak * (0.1 + 0.9 * 0.5))
    assert json.loads((run / "metrics.json").read_text())["steps"] == 5

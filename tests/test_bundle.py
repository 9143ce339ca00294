"""Bundled encoders (issue 31, item 4): a tiny model pretrained here is bundled, loaded offline by name, evaluated
on a format it never saw, listed by ``s2i models``; a run that saw a reported test sequence is refused."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

import s2i
from s2i.bundle import check_reports, make_bundle, stage_bundle
from s2i.cli import main
from s2i.encode import S2IConfig
from s2i.encode.value_range import dataset_value_range
from s2i.evaluation.baseline import export_random_encoder
from s2i.evaluation.config import load_eval_config
from s2i.evaluation.protocols import run_protocol
from s2i.models import bundled
from s2i.skeleton import SkeletonSequence
from s2i.store import SkeletonStore, StoreWriter
from s2i.testing.actions import limb_swing_sequence, write_limb_action_store
from s2i.training.config import load_config
from s2i.training.fit import pretrain

from helpers import TINY_VIT

TINY = ["encode.height=32", "encode.width=32", "encode.persons=first", "model.backbone=vit_tiny_patch16_224",
        "model.patch_size=8", "model.backbone_kwargs={depth: 1, embed_dim: 48, num_heads: 2}", "model.decoder_dim=32",
        "model.decoder_depth=1", "model.decoder_heads=2", "data.batch_size=8", "optim.max_steps=4",
        "optim.warmup_steps=1", "trainer.checkpoint_every=4", "trainer.log_every=1", "trainer.progress_bar=false"]


def _pretrain(store: Path, out: Path, *extra: str) -> Path:
    return pretrain(load_config(None, [*TINY, *extra]), [store], out)


def _swapped_store(src: SkeletonStore, out: Path) -> SkeletonStore:
    """The same sequences with a second split ``swap`` whose train part is ``xsub``'s test part."""
    xsub = src.splits["xsub"]
    with StoreWriter(out, "ntu25", 3, 25) as w:
        for i in range(len(src)):
            w.append(src[i])
        w.finalize({"xsub": xsub, "swap": {"train": xsub["test"], "test": xsub["train"]}},
                   {"dataset": "limb-actions-swapped", "num_classes": 4}, {})
    return SkeletonStore(out)


def _kinect_store(out: Path) -> SkeletonStore:
    """A store of a format the bundle never saw (kinect_v1, 20 joints): limb swings, 2 classes."""
    rng = np.random.default_rng(5)
    with StoreWriter(out, "kinect_v1", 3, 20) as w:
        for i in range(16):
            j = limb_swing_sequence(i % 2, 30, rng)[:, :, :20].astype(np.float32)
            w.append(SkeletonSequence(j, "kinect_v1", meta={"label": i % 2}))
        w.finalize({"xsub": {"train": list(range(10)), "test": list(range(10, 16))}},
                   {"dataset": "synthetic-kinect", "num_classes": 2}, {})
    return SkeletonStore(out)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """(root, store, run, bundle folder): a tiny run on the limb store, evaluated and bundled as s2i-tiny."""
    root = tmp_path_factory.mktemp("bundle")
    store = write_limb_action_store(root / "limbs")
    run = _pretrain(store.path, root / "run")
    staged = stage_bundle(run, root / "work" / "s2i-tiny")
    results = []
    for init in ("pretrained", "random"):
        cfg = load_eval_config(None, ["seeds=[0, 1]", f"init={init}", "batch_size=32", "cache=false"])
        results.append(run_protocol("knn", staged, store.path, root / "work" / f"knn-{init}", None, cfg, False))
    dest = make_bundle(staged, run, root / "bundled" / "s2i-tiny", results, "python benchmarks/bundle.py RUN ...",
                       "s2i-tiny")
    return root, store, run, dest, results


@pytest.fixture()
def use_bundle(made, monkeypatch, tmp_path):
    """The made bundle as this installation's only bundled encoder; the working folder empty; no network."""
    monkeypatch.setattr(bundled, "ROOT", made[0] / "bundled")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    return made


def test_bundle_folder_is_bf16_and_small(made):
    dest = made[3]
    assert sorted(p.name for p in dest.iterdir()) == ["README.md", "bundle.json", "config.json", "model.safetensors"]
    with safe_open(str(dest / "model.safetensors"), framework="pt") as f:
        assert {str(f.get_tensor(k).dtype) for k in f.keys()} == {"torch.bfloat16"}  # noqa: SIM118
    assert sum(p.stat().st_size for p in dest.iterdir()) < 12e6


def test_load_by_name_offline_is_the_bundled_folder(use_bundle):
    _, store, _, dest, _ = use_bundle
    seqs = [store[i] for i in range(3)]
    by_name = s2i.load_encoder("s2i-tiny", device="cpu").embed(seqs)
    by_path = s2i.load_encoder(dest, device="cpu").embed(seqs)
    assert by_name.shape == (3, 48) and np.array_equal(by_name, by_path)
    with pytest.raises(FileNotFoundError, match="no such folder: s2i-small"):
        s2i.load_encoder("s2i-small")


def test_a_local_path_of_the_same_name_wins(use_bundle, tmp_path):
    _, store, _, dest, _ = use_bundle
    export_random_encoder(tmp_path / "s2i-tiny", [store], S2IConfig(height=32, width=32, persons="first"),
                          patch_size=8, backbone_kwargs=TINY_VIT, seed=3)
    with pytest.warns(UserWarning, match="local path .* is used, not the bundled encoder"):
        local = s2i.load_encoder("s2i-tiny", device="cpu")
    assert local.embed_dim == TINY_VIT["embed_dim"] and local.model.meta["info"] != \
        s2i.load_encoder(dest, device="cpu").model.meta["info"]


def test_eval_by_name_on_a_format_it_never_saw_uses_the_training_split_range(use_bundle, tmp_path):
    _, _, _, dest, _ = use_bundle
    other = _kinect_store(tmp_path / "kinect")
    assert main(["eval", "knn", "--checkpoint", "s2i-tiny", "--data", str(other.path), "--out", str(tmp_path / "ev"),
                 "--set", "cache=false", "--quiet"]) == 0
    res = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert res["checkpoint"]["path"] == str(dest) and res["method"] == "pretrained s2i-tiny"
    assert res["checkpoint_hash"] == "sha256:" + hashlib.sha256((dest / "model.safetensors").read_bytes()).hexdigest()
    assert res["format"]["format_seen_in_pretraining"] is False and res["data"]["format"] == "kinect_v1"
    enc = res["encoders"]["joint"]
    assert enc["config"]["height"] == 32 and enc["config"]["persons"] == "first"  # the bundle's S2I options
    lo, hi = dataset_value_range(other, "xsub", S2IConfig(**enc["config"]))  # the training part's range
    assert np.allclose(enc["value_range"], [lo, hi], atol=1e-6)
    every = dataset_value_range(SkeletonStore(other.path), None, S2IConfig(**enc["config"]))  # test part included
    assert not np.allclose(enc["value_range"], every, atol=1e-3)


def test_models_lists_the_bundled_encoders(use_bundle, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("s2i-tiny: ") and " MB, " in out and "M parameters, 4 pretraining steps" in out
    assert "trained on: limb-actions (xsub/train, 48)" in out
    assert "limb-actions knn " in out and "(random " in out
    assert main(["models", "--card", "s2i-tiny"]) == 0
    assert capsys.readouterr().out.startswith("---\nlibrary_name: s2i")


def test_model_card_states_data_config_steps_hashes_command_and_results(made):
    _, store, run, dest, results = made
    card = (dest / "README.md").read_text()
    info = json.loads((dest / "bundle.json").read_text())
    assert 's2i.load_encoder("s2i-tiny")' in card
    assert f"| limb-actions | {store.path} | ntu25 | xsub | train | 48 | `{store.manifest['content_hash']}` |" in card
    assert "- 4 optimizer steps of 8 sequences" in card and "backbone_kwargs:" in card and "decoder_dim: 32" in card
    weights = "sha256:" + hashlib.sha256((dest / "model.safetensors").read_bytes()).hexdigest()
    run_config = "sha256:" + hashlib.sha256((run / "config.yaml").read_bytes()).hexdigest()
    assert f"- weights: `{weights}`" in card and f"- run config: `{run_config}`" in card
    assert "python benchmarks/bundle.py RUN ..." in card
    assert info["trained_on"][0]["subset"] == "train" and info["steps"] == 4
    rows = {r["init"]: r for r in info["results"]}
    per_seed = [s.top1 for s in results[0].per_seed]
    assert rows["pretrained"]["top1"] == round(float(np.mean(per_seed)), 2) and rows["pretrained"]["seeds"] == [0, 1]
    assert rows["pretrained"]["n"] == 24 and rows["pretrained"]["wilson95"][0] < rows["pretrained"]["top1"]
    lo, hi = rows["random"]["wilson95"]
    assert "| limb-actions | xsub | kNN (cosine, temperature 0.07), k = 20" in card
    assert f"| {lo}–{hi} | 0, 1 | 24 |" in card


def test_a_run_trained_on_a_reported_test_split_is_refused(made, tmp_path):
    root, store, run, _, results = made
    assert check_reports(run, [(store.path, "xsub")]) is None
    swapped = _swapped_store(store, tmp_path / "swapped")
    bad = _pretrain(swapped.path, tmp_path / "bad", "data.split=swap")
    with pytest.raises(ValueError, match="pretrained on 24 sequence\\(s\\) that .* split 'xsub' tests"):
        check_reports(bad, [(swapped.path, "xsub")])
    check_reports(bad, [(swapped.path, "swap")])  # its own split's test part was never seen
    staged = stage_bundle(bad, tmp_path / "staged")
    cfg = load_eval_config(None, ["seeds=[0]", "cache=false"])
    res = run_protocol("knn", staged, swapped.path, tmp_path / "ev", "xsub", cfg, False)
    with pytest.raises(ValueError, match="a bundle never reports on data its encoder was trained on"):
        make_bundle(staged, bad, tmp_path / "dest", [res], "cmd")
    assert not (tmp_path / "dest").exists()


def test_results_of_other_weights_and_foreign_folders_are_refused(made, tmp_path):
    root, store, run, _, results = made
    staged = stage_bundle(run, tmp_path / "staged")
    for _ in range(3):  # staging is byte-stable, so results measured on one staging hold for the next
        assert (stage_bundle(run, tmp_path / "staged") / "model.safetensors").read_bytes() == \
            (root / "work" / "s2i-tiny" / "model.safetensors").read_bytes()
    with pytest.raises(ValueError, match="not the bundled sha256:"):
        other = results[0].model_copy(update={"checkpoint_hash": "sha256:0"})
        make_bundle(staged, run, tmp_path / "dest", [other], "cmd")
    with pytest.raises(ValueError, match="needs evaluation results"):
        make_bundle(staged, run, tmp_path / "dest", [], "cmd")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not s2i's")
    with pytest.raises(ValueError, match="is not a bundled encoder"):
        make_bundle(staged, run, tmp_path / "mine", results, "cmd")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "not s2i's"
    again = make_bundle(staged, run, tmp_path / "dest", results, "cmd")  # a bundle is replaced whole
    shutil.copy(again / "README.md", tmp_path / "card.md")
    assert make_bundle(staged, run, again, results, "cmd2") == again and "cmd2" in (again / "README.md").read_text()


SHIPPED = bundled.ROOT / "s2i-tiny"


def test_the_shipped_s2i_tiny_is_small_evaluated_and_trained_on_training_splits_only(monkeypatch):
    """The encoder that ships (made by benchmarks/bundle.py): <= 12 MB, bf16, its card and bundle.json complete."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "s2i-tiny" in bundled.bundled_names()
    assert sum(p.stat().st_size for p in SHIPPED.iterdir()) <= 12e6
    info = bundled.bundle_info(SHIPPED)
    assert info is not None and info["name"] == "s2i-tiny" and info["steps"] == 2400
    assert {d["dataset"] for d in info["trained_on"]} == {"nw-ucla", "utd-mhad", "msr-action3d", "humanoid-motions"}
    assert {d["subset"] for d in info["trained_on"]} == {"train"}
    weights = "sha256:" + hashlib.sha256((SHIPPED / "model.safetensors").read_bytes()).hexdigest()
    assert info["hashes"]["weights"] == weights
    cells = {(r["dataset"], r["protocol"], r["init"]) for r in info["results"]}
    assert cells == {(d["dataset"], p, i) for d in info["trained_on"] for p in ("linear", "knn")
                     for i in ("pretrained", "random")}
    assert {tuple(r["seeds"]) for r in info["results"]} == {(0, 1, 2)}
    card = (SHIPPED / "README.md").read_text()
    assert "python benchmarks/bundle.py /work/bundle-run/union --name s2i-tiny" in card and weights in card
    model = s2i.load_encoder("s2i-tiny", device="cpu")
    rng = np.random.default_rng(0)
    seq = SkeletonSequence(limb_swing_sequence(1, 40, rng)[:, :, :20].astype(np.float32), "kinect_v1")
    assert model.embed([seq]).shape == (1, 192) and np.isfinite(model.embed([seq])).all()


def test_the_package_data_globs_ship_every_bundled_file():
    """pyproject's package data names the bundle's files, so `pip install .` installs them."""
    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["s2i"]
    files = [p.relative_to(bundled.ROOT.parent) for p in SHIPPED.iterdir()]
    assert len(files) == 4 and all(any(f.match(g) for g in globs) for f in files), (files, globs)

"""Every protocol end to end on a tiny separable synthetic store (which limb swings), with a random-init
tiny ViT: accuracy well above chance, results.json complete, each test sample scored once."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from s2i.cli import main
from s2i.encode import S2IConfig
from s2i.evaluation.baseline import export_random_encoder
from s2i.evaluation.config import ConfigError, load_eval_config
from s2i.evaluation.protocols import run_protocol
from s2i.evaluation.results import git_state, load_results, results_table
from s2i.evaluation.subsets import per_class_subset
from s2i.testing.actions import write_limb_action_store

from helpers import TINY_VIT

CHANCE = 25.0


@pytest.fixture(scope="module")
def setup(limb_actions):
    return limb_actions


def cfg(root, *sets):
    return load_eval_config(None, [f"cache_dir={root / 'cache'}", *sets])


def test_linear_end_to_end_and_results_file(setup):
    root, store, enc = setup
    res = run_protocol("linear", enc, store.path, root / "lin", config=cfg(root, "linear.epochs=60",
                                                                        "linear.batch_size=16"), progress=False)
    assert res.top1 > 2 * CHANCE, res.top1
    saved = json.loads((root / "lin" / "results.json").read_text())
    for key in ("protocol", "top1", "top5", "seeds", "top1_seeds", "per_class_top1", "confusion_matrix",
                "hyperparameters", "dataset", "split", "stream", "config", "data_hashes", "checkpoint_hash",
                "version", "device", "wall_time_s", "num_test_samples", "git", "run_id"):
        assert key in saved, key
    assert saved["git"] == git_state()  # the commit of the source that ran (None outside a git checkout)
    assert saved["protocol"] == "linear" and saved["split"] == "xsub" and saved["stream"] == "joint"
    assert saved["num_test_samples"] == len(store.split_ids("xsub", "test")) == 24
    assert np.sum(saved["confusion_matrix"]) == 24  # every test sample exactly once
    assert saved["data_hashes"] == {"limb-actions": store.manifest["content_hash"]}
    assert saved["checkpoint_hash"].startswith("sha256:")
    assert saved["features"]["cached"] == {"joint": False}
    again = run_protocol("linear", enc, store.path, root / "lin2", config=cfg(root, "linear.epochs=60",
                                                                           "linear.batch_size=16"), progress=False)
    assert again.features.cached == {"joint": True}  # the second run reads the cache
    assert again.top1 == res.top1 and again.confusion_matrix == res.confusion_matrix
    assert again.run_id != res.run_id and len(res.run_id) == 32  # two runs, two ids
    assert res.hyperparameters.feature_blocks == 1
    assert "| linear limb-actions xsub (n=24) |" in results_table([res])


def test_linear_on_the_last_blocks_features(setup):
    root, store, _ = setup
    enc = export_random_encoder(root / "enc2", [store], S2IConfig(height=32, width=32, persons="first"),
                                patch_size=8, backbone_kwargs={**TINY_VIT, "depth": 2}, seed=0)
    res = run_protocol("linear", enc, store.path, root / "lin_blocks", config=cfg(
        root, "linear.epochs=60", "linear.batch_size=16", "feature_blocks=2"), progress=False)
    assert res.top1 > 2 * CHANCE, res.top1
    assert res.hyperparameters.feature_blocks == 2 and res.config["feature_blocks"] == 2
    assert "| linear (last 2 blocks) limb-actions xsub (n=24) |" in results_table([res])
    with pytest.raises(ValueError, match="between 1 and the backbone's depth"):
        run_protocol("knn", enc, store.path, root / "knn_blocks", config=cfg(root, "feature_blocks=3"), progress=False)


def test_linear_on_augmented_copies_of_the_training_set(setup):
    root, store, enc = setup
    sets = ("linear.epochs=60", "linear.batch_size=16", "linear.augmented_copies=2", "linear.augment.rotate=15",
            "linear.temporal_crop=[0.6,1.0]", "seeds=[0,1]")
    res = run_protocol("linear", enc, store.path, root / "lin_aug", config=cfg(root, *sets), progress=False)
    assert res.top1 > 2 * CHANCE, res.top1
    assert res.hyperparameters.linear["augmented_copies"] == 2
    assert res.hyperparameters.linear["augment"]["rotate"] == 15
    copies = res.features.augmented_copies["joint"]
    assert [c["seed"] for c in copies] == [0, 1] and all(len(c["keys"]) == 2 for c in copies)
    assert not set(copies[0]["keys"]) & set(copies[1]["keys"])  # each seed draws its own copies
    assert "| linear (2 augmented copies) limb-actions xsub (n=24) |" in results_table([res])
    clean = run_protocol("linear", enc, store.path, root / "lin_aug0", config=cfg(
        root, "linear.epochs=60", "linear.batch_size=16", "seeds=[0,1]"), progress=False)
    assert clean.features is not None and clean.features.augmented_copies is None
    from safetensors.torch import load_file

    a, b = load_file(root / "lin_aug" / "scores.safetensors"), load_file(root / "lin_aug0" / "scores.safetensors")
    assert a.keys() == b.keys() and not any(torch.allclose(a[k], b[k]) for k in a if k.startswith("joint"))  # acts
    with pytest.raises(ConfigError, match="augmented_copies > 0 needs"):
        cfg(root, "linear.augmented_copies=2")
    with pytest.raises(ConfigError, match="set linear.augmented_copies > 0"):
        cfg(root, "linear.augment.rotate=15")
    with pytest.raises(ConfigError, match="set linear.augmented_copies or linear.test_crops"):
        cfg(root, "linear.temporal_crop=[0.5,1.0]")
    with pytest.raises(ConfigError, match="linear.test_crops > 0 draws windows"):
        cfg(root, "linear.test_crops=2")


def test_linear_with_test_time_crops_scores_the_carve_and_the_test_set_with_windows(setup):
    root, store, enc = setup
    base = ("linear.epochs=30", "linear.batch_size=16", "linear.temporal_crop=[0.5,1.0]", "linear.val_fraction=0.25")
    res = run_protocol("linear", enc, store.path, root / "lin_tta", config=cfg(root, *base, "linear.test_crops=2"),
                       progress=False)
    assert res.top1 > 2 * CHANCE, res.top1
    crops = res.features.test_crops["joint"]
    assert "| linear (2 test crops) limb-actions xsub (n=24) |" in results_table([res])
    assert sorted(c["subset"] for c in crops) == ["test", "train"] and all(len(c["keys"]) == 2 for c in crops)
    copies = run_protocol("linear", enc, store.path, root / "lin_tta_copies", config=cfg(
        root, *base, "linear.test_crops=2", "linear.augmented_copies=2"), progress=False)
    keys = {k for c in copies.features.augmented_copies["joint"] for k in c["keys"]}
    assert not keys & {k for c in copies.features.test_crops["joint"] for k in c["keys"]}  # other draws


def test_knn_several_k_and_streams_fused(setup):
    root, store, enc = setup
    res = run_protocol("knn", enc, store.path, root / "knn", config=cfg(root, "knn.ks=[1,5]", "streams=[joint,motion]"),
                       progress=False)
    assert res.stream == "joint+motion" and set(res.streams) == {"joint", "motion"}
    assert res.top1 > 2 * CHANCE
    assert set(res.training.knn_top1["joint"][0]) == {"1", "5"}  # as in results.json
    assert res.hyperparameters.fusion["rule"] == "mean of softmax scores"
    for s in ("joint", "motion"):
        assert res.streams[s].num_test_samples == 24


def test_finetune_learns_and_reports_last_epoch(setup):
    root, store, enc = setup
    res = run_protocol("finetune", enc, store.path, root / "ft",
                       config=cfg(root, "finetune.epochs=4", "finetune.batch_size=16", "finetune.base_lr=0.3",
                                  "finetune.warmup_epochs=1", "finetune.mixup=0.2"), progress=False)
    assert res.top1 > 2 * CHANCE, res.top1
    rec = res.training.finetune["joint"][0]
    assert rec.selected_epoch == 3 and len(rec.train_loss) == 4
    assert rec.num_val_samples == 0 and rec.num_fit_samples == len(store.split_ids("xsub", "train"))
    assert res.num_test_samples == 24


def test_finetuned_models_are_saved_and_score_the_test_set_as_reported(setup):
    """Each seed's reported model is saved (an exported encoder plus its head); read back, it gives the test
    scores the run reported, and its backbone is the fine-tuned one, not the starting checkpoint."""
    from safetensors.torch import load_file

    from s2i.evaluation import load_finetuned
    from s2i.models import load_exported

    root, store, enc = setup
    res = run_protocol("finetune", enc, store.path, root / "ft-save",
                       config=cfg(root, "finetune.epochs=3", "finetune.batch_size=16", "finetune.base_lr=0.3",
                                  "finetune.warmup_epochs=1", "seeds=[0,1]", "finetune.test_crops=2"), progress=False)
    saved = res.models["joint"]
    assert [m["seed"] for m in saved] == [0, 1] and saved[0]["sha256"] != saved[1]["sha256"]
    scores = load_file(root / "ft-save" / "scores.safetensors")
    test_ids = store.split_ids("xsub", "test")
    for m in saved:
        clf = load_finetuned(root / "ft-save" / m["path"])
        assert clf.meta["seed"] == m["seed"] and clf.meta["class_names"] == store.class_names
        torch.testing.assert_close(clf.predict(store, test_ids), scores[f"joint/seed{m['seed']}"])
    start = load_exported(enc).backbone.state_dict()
    tuned = load_exported(root / "ft-save" / saved[0]["path"]).backbone.state_dict()
    assert start.keys() == tuned.keys() and not torch.equal(start["blocks.0.attn.qkv.weight"],
                                                            tuned["blocks.0.attn.qkv.weight"])
    off = run_protocol("finetune", enc, store.path, root / "ft-nosave", config=cfg(
        root, "finetune.epochs=1", "finetune.batch_size=16", "finetune.save_models=false"), progress=False)
    assert "models" not in off and not (root / "ft-nosave" / "models").exists()
    with pytest.raises(ValueError, match="not a fine-tuned s2i classifier"):
        load_finetuned(enc)


def test_test_time_crops_average_probabilities_of_the_whole_sequence_and_its_windows(setup):
    """finetune.test_crops: the score is the log of the mean softmax over the whole sequence and K seeded
    windows; the validation carve is scored the same way at the end (val_final_top1)."""
    from s2i.evaluation import load_finetuned
    from s2i.evaluation.finetune import predict

    root, store, enc = setup
    res = run_protocol("finetune", enc, store.path, root / "ft-tta", config=cfg(
        root, "finetune.epochs=2", "finetune.batch_size=16", "finetune.base_lr=0.3", "finetune.warmup_epochs=1",
        "finetune.test_crops=3", "finetune.val_fraction=0.25"), progress=False)
    rec = res.training.finetune["joint"][0]
    assert 0.0 <= rec.val_final_top1 <= 100.0 and res.hyperparameters.finetune["test_crops"] == 3
    clf = load_finetuned(root / "ft-tta" / res.models["joint"][0]["path"])
    ids = store.split_ids("xsub", "test")
    whole = predict(clf.module, store, ids, 16, 1)
    tta = predict(clf.module, store, ids, 16, 1, crops=3, crop=(0.5, 1.0), seed=0)
    torch.testing.assert_close(tta.exp().sum(1), torch.ones(len(ids)))  # log-probabilities
    assert not torch.allclose(tta.exp(), whole.softmax(1), atol=1e-4)  # the windows count
    one = predict(clf.module, store, ids, 16, 1, crops=1, crop=(0.5, 1.0), seed=0)
    w1 = predict(clf.module, store, ids, 16, 1, crops=1, crop=(0.5, 1.0), seed=1)
    assert not torch.allclose(one, w1)  # the windows are drawn from the seed
    # by hand: crop 0's windows are the features module's windows of draw (seed, TEST_DRAW)
    from s2i.evaluation.features import _batches
    from s2i.evaluation.finetune import TEST_DRAW

    clf.module.eval()
    with torch.no_grad():
        win = torch.cat([clf.module(b) for b in _batches(store, ids, 16, 1, crop=(0.5, 1.0), draw=(0, TEST_DRAW))])
    torch.testing.assert_close(one.exp(), (whole.softmax(1) + win.softmax(1)) / 2)
    with pytest.raises(ConfigError, match="test_crops > 0 draws windows"):
        cfg(root, "finetune.test_crops=2", "finetune.temporal_crop=null")


def test_finetune_selects_on_a_validation_carve_and_records_train_accuracy(setup):
    """select=val: the reported model is the epoch of best accuracy on a carve of the training set (never the
    test set); without mixup each epoch's training accuracy is recorded beside its loss."""
    root, store, enc = setup
    res = run_protocol("finetune", enc, store.path, root / "ft-val",
                       config=cfg(root, "finetune.epochs=4", "finetune.batch_size=16", "finetune.base_lr=0.3",
                                  "finetune.warmup_epochs=1", "finetune.val_fraction=0.25", "finetune.select=val"),
                       progress=False)
    rec = res.training.finetune["joint"][0]
    assert len(rec.val_top1) == 4 and rec.selected_epoch == int(np.argmax(rec.val_top1))
    n_train = len(store.split_ids("xsub", "train"))
    assert rec.num_val_samples > 0 and rec.num_fit_samples + rec.num_val_samples == n_train
    assert len(rec.train_top1) == 4 and all(0.0 <= a <= 100.0 for a in rec.train_top1)
    assert rec.train_top1[-1] > CHANCE, rec.train_top1
    assert res.num_test_samples == 24 and res.top1 > 2 * CHANCE, res.top1
    with pytest.raises(ValueError, match="val_fraction"):
        run_protocol("finetune", enc, store.path, root / "ft-noval",
                     config=cfg(root, "finetune.epochs=1", "finetune.select=val"), progress=False)


def test_group_carve_holds_out_whole_subjects_of_the_training_set(setup):
    """linear.val_group=subject: the probe is validated on training subjects it never fitted (as a cross-subject
    test is); the held-out subjects are recorded; a field the store lacks is an error naming the file."""
    root, store, enc = setup
    res = run_protocol("linear", enc, store.path, root / "lin-grp",
                       config=cfg(root, "linear.epochs=20", "linear.batch_size=16", "linear.val_fraction=0.3",
                                  "linear.val_group=subject"), progress=False)
    rec = res.training.linear["joint"][0]
    train_ids = store.split_ids("xsub", "train")
    subjects = np.array([store.meta[i]["subject"] for i in train_ids])
    held = [int(v) for v in rec.val_groups]
    assert len(held) == 1 and rec.num_val_samples == int(np.isin(subjects, held).sum()) == 16
    assert rec.num_fit_samples == len(train_ids) - 16 and len(rec.val_top1) == 20
    assert res.hyperparameters.linear["val_group"] == "subject"
    ft = run_protocol("finetune", enc, store.path, root / "ft-grp",
                      config=cfg(root, "finetune.epochs=2", "finetune.batch_size=16", "finetune.warmup_epochs=1",
                                 "finetune.val_fraction=0.3", "finetune.val_group=subject"), progress=False)
    ft_rec = ft.training.finetune["joint"][0]
    assert ft_rec.val_groups == rec.val_groups and ft_rec.num_val_samples == 16  # one carve for both
    assert len(ft_rec.val_top1) == 2
    with pytest.raises(ValueError, match=r"meta.jsonl:\d+: .* has no 'view'"):
        run_protocol("linear", enc, store.path, root / "lin-view",
                     config=cfg(root, "linear.epochs=1", "linear.val_fraction=0.3", "linear.val_group=view"),
                     progress=False)
    with pytest.raises(ConfigError, match="val_fraction"):
        cfg(root, "finetune.val_group=view")


def test_finetune_augments_training_images_only(setup):
    """finetune.augment acts on the training images (after view alignment), never on the test images."""
    from s2i.data import SkeletonDataset, pad_collate
    from s2i.evaluation.config import FinetuneConfig
    from s2i.evaluation.finetune import FinetuneModule, build_classifier
    from s2i.models import load_exported

    _, store, enc = setup
    model = load_exported(enc)
    encoder = model.encoder()
    cfg = FinetuneConfig(augment={"rotate": 30, "shear": 0.2})
    module = FinetuneModule(build_classifier(model, 4), encoder, model.mean, model.std, 4, cfg, 1, seed=0)
    ds = SkeletonDataset(store, "xsub", "train", max_persons=1)
    b = pad_collate([ds[i] for i in range(6)])
    plain = module.images(b)
    torch.testing.assert_close(plain, model.normalize(encoder(b["joints"], b["length"])))  # eval: no augmentation
    a1 = module.images(b, torch.Generator().manual_seed(0))
    a2 = module.images(b, torch.Generator().manual_seed(0))
    torch.testing.assert_close(a1, a2)
    assert (a1 - plain).abs().amax(dim=(1, 2, 3)).min() > 0.05  # every training image changed
    off = FinetuneModule(build_classifier(model, 4), encoder, model.mean, model.std, 4, FinetuneConfig(), 1)
    torch.testing.assert_close(off.images(b, torch.Generator().manual_seed(0)), plain)


def test_finetune_images_use_the_runs_2d_projection(setup):
    """drop_depth fine-tuning sees the projection the run asked for (the encoder's range was estimated on it)."""
    from s2i.data import SkeletonDataset, pad_collate
    from s2i.evaluation.config import FinetuneConfig
    from s2i.evaluation.features import encoder_for_store, load_checkpoint, to_image_plane
    from s2i.evaluation.finetune import FinetuneModule, build_classifier

    _, store, enc = setup
    ckpt = load_checkpoint(enc)
    b = pad_collate([SkeletonDataset(store, "xsub", "train", max_persons=1)[i] for i in range(4)])
    images = {}
    for proj in ("orthographic", "perspective"):
        e = encoder_for_store(ckpt, store, "xsub", to_2d=proj)
        m = FinetuneModule(build_classifier(ckpt.model, 4), e, ckpt.model.mean, ckpt.model.std, 4, FinetuneConfig(),
                           1, to_2d=proj)
        images[proj] = m.images(b)
        expected = ckpt.model.normalize(e(to_image_plane(b["joints"], proj), b["length"]))
        torch.testing.assert_close(images[proj], expected)
    assert not torch.allclose(images["orthographic"], images["perspective"])


def test_semi_subsets_are_fixed_per_seed_and_give_mean_std(setup):
    root, store, enc = setup
    c = cfg(root, "semi.fraction=0.25", "semi.method=linear", "seeds=[0,1,2]", "linear.epochs=40",
            "linear.batch_size=8")
    res = run_protocol("semi", enc, store.path, root / "semi", config=c, progress=False)
    assert res.seeds == [0, 1, 2] and res.top1_seeds.n == 3
    assert res.top1 == pytest.approx(np.mean([p.top1 for p in res.per_seed]), abs=1e-3)
    assert [lab.num_labelled for lab in res.labelled] == [12, 12, 12]  # 3 of 12 per class x 4
    train_labels = store.labels[store.split_ids("xsub", "train")]
    for lab in res.labelled:  # the subset is a pure function of (labels, fraction, seed): any rank, any call
        pos = per_class_subset(train_labels, 0.25, lab.seed)
        ids = store.split_ids("xsub", "train")[pos]
        import hashlib
        assert lab.ids_sha256 == "sha256:" + hashlib.sha256(ids.astype(np.int64).tobytes()).hexdigest()
    assert res.top1 > 1.6 * CHANCE
    assert "| semi 25% (linear) limb-actions xsub (n=24) |" in results_table([res])


def test_cross_format_drop_depth_and_random_init_baseline(setup):
    root, store, enc = setup
    with pytest.raises(ValueError, match="cross-format"):
        run_protocol("cross-format", enc, store.path, root / "xf0", config=cfg(root), progress=False)
    res = run_protocol("cross-format", enc, store.path, root / "xf", config=cfg(root, "drop_depth=true",
                       "cross_format.method=knn", "knn.ks=[1]"), progress=False)
    assert res.format.drop_depth and res.data.dims_evaluated == 2
    assert res.top1 > 2 * CHANCE
    per = run_protocol("cross-format", enc, store.path, root / "xfp", config=cfg(
        root, "drop_depth=true", "projection=perspective", "cross_format.method=knn", "knn.ks=[1]"), progress=False)
    assert per.format.projection == "perspective" and per.top1 > 2 * CHANCE
    assert "| cross-format (knn) limb-actions xsub 2D perspective (n=24) |" in results_table([res, per])
    assert res.format.projection in (None, "orthographic")
    rnd = run_protocol("knn", enc, store.path, root / "rnd", config=cfg(root, "init=random", "init_seed=3",
                       "knn.ks=[1]", "encode.layout=random"), progress=False)
    assert rnd.init == "random" and rnd.checkpoint_hash.startswith("random(seed=3)")
    assert rnd.encoders["joint"].config["layout"] == "random"  # the ablation's encoder option
    two = run_protocol("knn", enc, store.path, root / "rnd2", config=cfg(root, "init=random", "seeds=[4,5]",
                       "knn.ks=[1]"), progress=False)
    hashes = [lab.checkpoint_hash for lab in two.labelled]
    assert hashes == ["random(seed=0)" + hashes[0][14:], "random(seed=1)" + hashes[1][14:]]  # one init per seed


def test_transfer_to_another_store(setup, tmp_path):
    root, _, enc = setup
    other = write_limb_action_store(tmp_path / "other", seed=5, train_per_class=8, test_per_class=4)
    res = run_protocol("transfer", enc, other.path, tmp_path / "tr", config=cfg(root, "transfer.method=knn",
                       "knn.ks=[1]"), progress=False)
    assert res.num_test_samples == 16 and res.data_hashes == {"limb-actions": other.manifest["content_hash"]}
    assert res.top1 > 2 * CHANCE


def test_cli_eval_and_results_table(setup, capsys):
    root, store, enc = setup
    rc = main(["eval", "knn", "--checkpoint", str(enc), "--data", str(store.path), "--out", str(root / "cli"),
               "--set", f"cache_dir={root / 'cache'}", "--set", "knn.ks=[1]", "--method", "rand", "--quiet"])
    assert rc == 0
    assert "on 24 test samples" in capsys.readouterr().out
    table = results_table(load_results([root / "cli"]))
    assert "| rand |" in table and "knn limb-actions xsub" in table
    assert main(["results", str(root / "cli"), "--runs"]) == 0
    assert "| rand | knn | limb-actions xsub | joint |" in capsys.readouterr().out
    assert main(["eval", "knn", "--checkpoint", str(enc), "--data", str(store.path), "--out", str(root / "x"),
                 "--set", "knn.kz=[1]"]) == 2
    assert "knn.kz: unknown key" in capsys.readouterr().err


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="linear.epochs"):
        load_eval_config(None, ["linear.epochs=zero"])
    with pytest.raises(ConfigError, match="streams"):
        load_eval_config(None, ["streams=[joint,joint]"])
    assert load_eval_config(None, ["cross-format.method=knn"]).cross_format.method == "knn"
    assert load_eval_config(None, ["encode.part_resample=arclength"]).encode == {"part_resample": "arclength"}
    with pytest.raises(ConfigError, match="encode"):
        load_eval_config(None, ["encode.height=16"])
    with pytest.raises(ConfigError, match="encode"):
        load_eval_config(None, ["encode.layout=diagonal"])
    with pytest.raises(ConfigError, match="needs drop_depth=true"):  # not silently evaluated in 3D
        load_eval_config(None, ["projection=perspective"])
    with pytest.raises(ConfigError, match="projection"):
        load_eval_config(None, ["drop_depth=true", "projection=fisheye"])
    assert load_eval_config(None, ["drop_depth=true", "projection=perspective"]).projection == "perspective"
    torch.manual_seed(0)


def test_shipped_eval_configs_validate():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "configs" / "eval"
    paths = sorted(folder.glob("*.yaml"))
    assert paths
    for p in paths:
        load_eval_config(p)

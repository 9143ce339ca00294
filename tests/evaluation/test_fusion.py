"""Late fusion: runs evaluated apart, fused from their saved test scores, equal the same streams fused in
one run; runs that did not score the same test samples of the same data are refused."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from s2i.cli import main
from s2i.evaluation.config import load_eval_config
from s2i.evaluation.fusion import SCORES_FILE, fuse_runs, read_scores
from s2i.evaluation.protocols import run_protocol
from s2i.evaluation.record import load_record
from s2i.evaluation.results import results_table
from s2i.testing.actions import write_limb_action_store


@pytest.fixture(scope="module")
def runs(limb_actions):
    root, store, enc = limb_actions

    def knn(out, *sets):
        cfg = load_eval_config(None, [f"cache_dir={root / 'cache'}", "knn.ks=[1,3]", "seeds=[0,1]", *sets])
        return run_protocol("knn", enc, store.path, root / out, config=cfg, progress=False)

    together = knn("together", "streams=[joint,motion]")
    for s in ("joint", "motion", "bone"):
        knn(s, f"streams=[{s}]")
    return root, store, enc, together


def test_runs_save_their_scores_and_fusing_them_equals_one_run_with_both_streams(runs):
    root, store, _, together = runs
    saved = read_scores(root / "joint")
    assert set(saved.scores) == {"joint"} and [t.shape for t in saved.scores["joint"]] == [(24, 4), (24, 4)]
    assert saved.test_ids.tolist() == store.split_ids("xsub", "test").tolist()
    fused = fuse_runs([root / "joint", root / "motion"], root / "fused")
    assert fused.stream == "joint+motion" and fused.seeds == [0, 1]
    for key in ("top1", "top5", "confusion_matrix", "per_class_top1", "per_seed"):
        assert getattr(fused, key) == getattr(together, key), key
    assert fused.streams is not None and together.streams is not None
    assert fused.streams["motion"].top1 == together.streams["motion"].top1
    assert fused.hyperparameters.fusion["late"] and len(fused.fused_from or []) == 2
    assert fused.num_test_samples == 24 and fused.data_hashes == together.data_hashes
    on_disk = load_record(root / "fused")
    assert on_disk.run_id == fused.run_id and fused.run_id not in {s.run_id for s in fused.fused_from or []}
    assert [s.run_id for s in fused.fused_from or []] == [load_record(root / n).run_id for n in ("joint", "motion")]
    assert on_disk.top1 == fused.top1
    assert "| knn limb-actions xsub joint+motion (n=24) |" in results_table([on_disk])
    again = fuse_runs([root / "fused", root / "bone"], root / "fused3", weights=[1, 1, 0])  # a fused run fuses again
    assert again.stream == "joint+motion+bone" and again.top1 == fused.top1  # bone weighted 0


def test_fusion_refuses_runs_that_do_not_match(runs, tmp_path):
    root, _, enc, _ = runs
    with pytest.raises(ValueError, match="at least two streams"):
        fuse_runs([root / "joint"], tmp_path / "a")
    with pytest.raises(ValueError, match=r"stream\(s\) \['joint'\] come from more than one run"):
        fuse_runs([root / "joint", root / "together"], tmp_path / "b")
    with pytest.raises(ValueError, match="3 weights for 2 streams"):
        fuse_runs([root / "joint", root / "motion"], tmp_path / "c", weights=[1, 2, 3])
    other = write_limb_action_store(tmp_path / "other", seed=5)
    cfg = load_eval_config(None, [f"cache_dir={root / 'cache'}", "knn.ks=[1,3]", "seeds=[0,1]", "streams=[bone]"])
    run_protocol("knn", enc, other.path, tmp_path / "bone_other", config=cfg, progress=False)
    with pytest.raises(ValueError, match="share the data"):
        fuse_runs([root / "joint", tmp_path / "bone_other"], tmp_path / "d")
    one_seed = load_eval_config(None, [f"cache_dir={root / 'cache'}", "knn.ks=[1,3]", "streams=[bone]"])
    run_protocol("knn", enc, root / "store", tmp_path / "bone_seed0", config=one_seed, progress=False)
    with pytest.raises(ValueError, match="share the seeds"):
        fuse_runs([root / "joint", tmp_path / "bone_seed0"], tmp_path / "e")
    flat = load_eval_config(None, [f"cache_dir={root / 'cache'}", "knn.ks=[1,3]", "seeds=[0,1]", "streams=[bone]",
                                   "drop_depth=true"])
    run_protocol("knn", enc, root / "store", tmp_path / "bone_2d", config=flat, progress=False)
    with pytest.raises(ValueError, match="share the 3D / 2D view"):
        fuse_runs([root / "joint", tmp_path / "bone_2d"], tmp_path / "f")
    semi = load_eval_config(None, [f"cache_dir={root / 'cache'}", "knn.ks=[1,3]", "seeds=[0,1]", "streams=[bone]",
                                   "semi.method=knn", "semi.fraction=0.5"])
    run_protocol("semi", enc, root / "store", tmp_path / "semi_bone", config=semi, progress=False)
    semi_joint = load_eval_config(None, [f"cache_dir={root / 'cache'}", "knn.ks=[1,3]", "seeds=[0,1]",
                                         "semi.method=knn", "semi.fraction=0.25"])
    run_protocol("semi", enc, root / "store", tmp_path / "semi_joint", config=semi_joint, progress=False)
    with pytest.raises(ValueError, match=r"share the training samples \(labelled ids per seed\)"):
        fuse_runs([tmp_path / "semi_joint", tmp_path / "semi_bone"], tmp_path / "g")
    assert not any((tmp_path / d).exists() for d in "defg")  # nothing written on refusal


def test_fusion_refuses_scores_that_are_not_the_runs(runs, tmp_path):
    root, *_ = runs
    import shutil

    for name in ("joint", "motion"):
        shutil.copytree(root / name, tmp_path / name)
    data = load_file(str(tmp_path / "motion" / SCORES_FILE))
    data["motion/seed0"] = torch.flip(data["motion/seed0"], [1])
    save_file(data, str(tmp_path / "motion" / SCORES_FILE))
    with pytest.raises(ValueError, match="sha256 differs"):
        fuse_runs([tmp_path / "joint", tmp_path / "motion"], tmp_path / "x")
    (tmp_path / "motion" / SCORES_FILE).unlink()
    with pytest.raises(ValueError, match="no scores.safetensors"):
        fuse_runs([tmp_path / "joint", tmp_path / "motion"], tmp_path / "x")


def test_cli_fuse(runs, capsys, tmp_path):
    root, *_ = runs
    assert main(["fuse", str(root / "joint"), str(root / "motion"), "--out", str(tmp_path / "f"),
                 "--weights", "2,1", "--method", "2s"]) == 0
    out = capsys.readouterr().out
    assert "joint+motion [2s]: top-1" in out and "(alone: joint" in out
    res = json.loads((tmp_path / "f" / "results.json").read_text())
    assert res["hyperparameters"]["fusion"]["weights"] == [2.0, 1.0] and res["method"] == "2s"
    assert main(["fuse", str(root / "joint"), str(root / "motion"), "--out", str(tmp_path / "g"),
                 "--weights", "2,x"]) == 2
    assert "--weights must be comma-separated numbers" in capsys.readouterr().err


def test_fuse_never_replaces_an_input_run(runs, tmp_path, capsys):
    """Issue 34 item 5: ``s2i fuse A B --out A`` is refused; A keeps its results and scores."""
    import shutil

    root, *_ = runs
    for name in ("joint", "motion"):
        shutil.copytree(root / name, tmp_path / name)
    before = (tmp_path / "joint" / "results.json").read_bytes()
    rc = main(["fuse", str(tmp_path / "joint"), str(tmp_path / "motion"), "--out", str(tmp_path / "joint")])
    err = capsys.readouterr().err
    assert rc == 2 and "is the input run" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "joint" / "results.json").read_bytes() == before
    with pytest.raises(ValueError, match="contains the input run"):
        fuse_runs([tmp_path / "joint", tmp_path / "motion"], tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not an s2i fused-results folder"):
        fuse_runs([tmp_path / "joint", tmp_path / "motion"], tmp_path / "mine")
    fuse_runs([tmp_path / "joint", tmp_path / "motion"], tmp_path / "f")
    fuse_runs([tmp_path / "joint", tmp_path / "motion"], tmp_path / "f")  # its own folder: replaced


def test_eval_of_a_run_folder_may_write_below_the_run(runs, tmp_path):
    """``--checkpoint RUN`` means RUN/encoder (either export layout), so ``--out RUN/eval/x`` (where ``s2i report
    RUN`` finds it, as the Quick tour does) is not inside the input encoder."""
    import shutil

    root, store, enc, _ = runs
    shutil.copytree(enc, tmp_path / "run" / "encoder")
    cfg = load_eval_config(None, [f"cache_dir={root / 'cache'}", "knn.ks=[1]", "seeds=[0]"])
    res = run_protocol("knn", tmp_path / "run", store.path, tmp_path / "run" / "eval" / "knn", config=cfg,
                       progress=False)
    assert (tmp_path / "run" / "eval" / "knn" / "results.json").is_file() and res.protocol == "knn"
    with pytest.raises(ValueError, match="is inside the input --checkpoint"):
        run_protocol("knn", tmp_path / "run", store.path, tmp_path / "run" / "encoder" / "x", config=cfg,
                     progress=False)


def test_eval_never_writes_into_its_inputs(runs, tmp_path):
    """An evaluation's --out may not be (inside) the store or the encoder, nor a folder that is not its own."""
    root, store, enc, _ = runs
    cfg = load_eval_config(None, [f"cache_dir={root / 'cache'}", "knn.ks=[1]", "seeds=[0]"])
    before = sorted(p.name for p in store.path.iterdir())
    for out, how in ((store.path, "is the input --data"), (store.path / "e", "is inside the input --data"),
                     (enc, "is the input --checkpoint")):
        with pytest.raises(ValueError, match=how):
            run_protocol("knn", enc, store.path, out, config=cfg, progress=False)
    assert sorted(p.name for p in store.path.iterdir()) == before
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "results.json").write_text("{}")
    with pytest.raises(ValueError, match="not an s2i evaluation folder"):
        run_protocol("knn", enc, store.path, tmp_path / "mine", config=cfg, progress=False)
    assert (tmp_path / "mine" / "results.json").read_text() == "{}"


def _rewrite_scores(run, change) -> None:
    """Apply ``change`` to a run's saved tensors and record the new file's sha256 in its results.json."""
    from s2i.evaluation.results import file_sha256

    path = run / SCORES_FILE
    data = load_file(str(path))
    change(data)
    save_file(data, str(path))
    res = json.loads((run / "results.json").read_text())
    res["scores"]["sha256"] = file_sha256(path)
    (run / "results.json").write_text(json.dumps(res, indent=1) + "\n")


def test_fusion_refuses_test_samples_in_another_order_or_with_other_labels(runs, tmp_path):
    """Two test samples of the same class swapped in one run (same labels, same set of ids, another order): its
    rows would be fused with the other run's rows of other sequences, so fusing is refused; and so are other
    labels for the same ids."""
    import shutil

    root, *_ = runs
    for name in ("joint", "motion"):
        shutil.copytree(root / name, tmp_path / name)
    fuse_runs([tmp_path / "joint", tmp_path / "motion"], tmp_path / "ok")  # as saved: aligned
    labels = load_file(str(tmp_path / "motion" / SCORES_FILE))["labels"]
    i, j = [int(k) for k in torch.nonzero(labels == labels[0]).flatten()[:2]]

    def swap(data):
        for key in [k for k in data if k != "labels"]:
            t = data[key].clone()
            t[[i, j]] = t[[j, i]]
            data[key] = t

    _rewrite_scores(tmp_path / "motion", swap)
    with pytest.raises(ValueError, match=r"share the test samples \(ids, in order\)"):
        fuse_runs([tmp_path / "joint", tmp_path / "motion"], tmp_path / "x")
    shutil.rmtree(tmp_path / "motion")
    shutil.copytree(root / "motion", tmp_path / "motion")
    _rewrite_scores(tmp_path / "motion", lambda d: d.update(labels=(d["labels"] + 1) % 4))
    with pytest.raises(ValueError, match="share the test labels"):
        fuse_runs([tmp_path / "joint", tmp_path / "motion"], tmp_path / "y")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()

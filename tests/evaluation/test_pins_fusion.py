"""evaluation/fusion.py pinned on values (issue 36, mutation round 2): every field of a fused results.json worked
out from the two runs' own results.json and saved scores, the saved fused scores and their header, how the
runs' inits, checkpoints and methods are joined, and the refusals' whole messages."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors import safe_open

from s2i.evaluation.config import load_eval_config
from s2i.evaluation.fusion import SCORES_FILE, fuse_runs, read_scores, write_scores
from s2i.evaluation.metrics import fuse_scores, seed_summary, stream_summaries
from s2i.evaluation.protocols import run_protocol
from s2i.evaluation.results import file_sha256


@pytest.fixture(scope="module")
def two_runs(limb_actions):
    root, store, enc = limb_actions
    for stream in ("joint", "motion"):
        cfg = load_eval_config(None, [f"cache_dir={root / 'cache'}", "knn.ks=[1,3]", "seeds=[0,2]",
                                      f"streams=[{stream}]"])
        run_protocol("knn", enc, store.path, root / stream, config=cfg, progress=False)
    return root


def _copy(root, tmp_path, edit=None):
    """The two runs copied to tmp_path; ``edit(name, results)`` may change a copy's results.json."""
    for name in ("joint", "motion"):
        shutil.copytree(root / name, tmp_path / name)
        if edit is not None:
            path = tmp_path / name / "results.json"
            res = json.loads(path.read_text())
            edit(name, res)
            path.write_text(json.dumps(res, indent=1) + "\n")
    return [tmp_path / "joint", tmp_path / "motion"]


def test_every_field_of_the_fused_result_comes_from_the_runs(two_runs, tmp_path):
    runs = _copy(two_runs, tmp_path, lambda n, r: r.update(wall_time_s=1.25 if n == "joint" else 2.5))
    src = [json.loads((r / "results.json").read_text()) for r in runs]
    got = fuse_runs(runs, tmp_path / "fused", weights=[2.0, 1.0]).dump()
    on_disk = json.loads((tmp_path / "fused" / "results.json").read_text())
    assert on_disk == got
    a, b = read_scores(runs[0]), read_scores(runs[1])
    per_stream = {"joint": a.scores["joint"], "motion": b.scores["motion"]}
    fused = [fuse_scores([a.scores["joint"][k], b.scores["motion"][k]], [2.0, 1.0]) for k in range(2)]
    assert {k: got[k] for k in seed_summary(fused, a.labels, 4, [0, 2])} == seed_summary(fused, a.labels, 4, [0, 2])
    assert got["streams"] == stream_summaries(per_stream, a.labels, 4, [0, 2])
    first = src[0]
    assert got["protocol"] == "knn" and got["seeds"] == [0, 2] and got["stream"] == "joint+motion"
    for key in ("method", "init", "dataset", "split", "num_train_samples", "labelled", "num_classes", "class_names",
                "data", "data_hashes", "format", "checkpoint_hash"):
        assert got[key] == first[key], key
    assert got["num_classes"] == 4 and isinstance(got["checkpoint_hash"], str)
    hp = {k: v for k, v in first["hyperparameters"].items() if k != "fusion"}
    hp["fusion"] = {"streams": ["joint", "motion"], "weights": [2.0, 1.0], "rule": "mean of softmax scores",
                    "runs": 2, "late": True}
    assert got["hyperparameters"] == hp
    assert got["fused_from"] == [
        {"path": str(r), "run_id": s["run_id"], "results_sha256": file_sha256(r / "results.json"),
         "scores_sha256": s["scores"]["sha256"], "streams": [name], "method": s["method"],
         "checkpoint_hash": s["checkpoint_hash"], "top1": s["top1"], "config": s["config"],
         "hyperparameters": s["hyperparameters"]} for r, s, name in zip(runs, src, ("joint", "motion"))]
    assert got["runs_wall_time_s"] == 3.75
    assert got["device"] == got["environment"]["device"] and got["version"] == got["environment"]["versions"]["s2i"]
    assert "git" in got and got["run_id"] not in {s["run_id"] for s in src} and len(got["run_id"]) == 32
    assert 0 <= got["wall_time_s"] < 600
    assert got["scores"] == {"file": SCORES_FILE, "sha256": file_sha256(tmp_path / "fused" / SCORES_FILE)}


def test_the_fused_run_saves_each_streams_scores_with_its_header(two_runs, tmp_path):
    runs = _copy(two_runs, tmp_path)
    got = fuse_runs(runs, tmp_path / "fused").dump()
    assert got["hyperparameters"]["fusion"]["weights"] == [1.0, 1.0]  # no weights: each stream 1
    saved = read_scores(tmp_path / "fused")
    a, b = read_scores(runs[0]), read_scores(runs[1])
    assert saved.test_ids.tolist() == a.test_ids.tolist() and torch.equal(saved.labels, a.labels)
    for k in range(2):
        assert torch.equal(saved.scores["joint"][k], a.scores["joint"][k])
        assert torch.equal(saved.scores["motion"][k], b.scores["motion"][k])
    with safe_open(str(tmp_path / "fused" / SCORES_FILE), framework="pt") as f:
        header = f.metadata()
    src = json.loads((runs[0] / "results.json").read_text())
    assert header == {"protocol": "knn", "dataset": str(src["dataset"]), "split": src["split"],
                      "content_hash": str(src["data"]["content_hash"]), "streams": '["joint", "motion"]',
                      "seeds": "[0, 2]"}
    assert fuse_runs(runs, tmp_path / "named", method="two-stream").method == "two-stream"


def test_runs_of_other_inits_and_checkpoints_are_named_together(two_runs, tmp_path):
    def edit(name, res):
        res["init"] = "random" if name == "joint" else "pretrained"
        res["checkpoint_hash"] = "h-" + name
        res.pop("wall_time_s", None)

    runs = _copy(two_runs, tmp_path, edit)
    got = fuse_runs(runs, tmp_path / "fused").dump()
    assert got["init"] == "pretrained+random"  # sorted, joined
    assert got["checkpoint_hash"] == ["h-joint", "h-motion"]
    assert got["runs_wall_time_s"] == 0  # a run without a wall time counts 0


def test_refusals_name_the_runs_and_what_differs(two_runs, tmp_path):
    for key, value, what, first in [("num_classes", 5, "the number of classes", 4),
                                    ("split", "xview", "the split", "xsub"),
                                    ("protocol", "linear", "the protocol", "knn")]:  # runs keep the last
        shutil.rmtree(tmp_path / "joint", ignore_errors=True)
        shutil.rmtree(tmp_path / "motion", ignore_errors=True)
        runs = _copy(two_runs, tmp_path, lambda n, r, k=key, v=value: r.update({k: v}) if n == "motion" else None)
        with pytest.raises(ValueError) as e:
            fuse_runs(runs, tmp_path / "x")
        assert str(e.value) == f"runs to fuse must share {what}: {runs[0]}: {first}; {runs[1]}: {value}"
    with pytest.raises(ValueError) as e:
        fuse_runs([runs[0]], tmp_path / "z")
    assert str(e.value) == "fusing needs at least two streams, the runs have ['joint']"
    with pytest.raises(ValueError) as e:
        fuse_runs([runs[0], runs[0]], tmp_path / "z")
    assert str(e.value) == "stream(s) ['joint'] come from more than one run: each stream may be fused once"
    with pytest.raises(ValueError) as e:
        fuse_runs(runs, tmp_path / "z", weights=[1.0])
    assert str(e.value) == "1 weights for 2 streams ['joint', 'motion']"
    assert not any((tmp_path / d).exists() for d in "xyz")


def test_read_scores_accepts_the_results_file_and_names_missing_seeds(two_runs, tmp_path):
    runs = _copy(two_runs, tmp_path)
    via_file = read_scores(runs[0] / "results.json")
    assert via_file.path == runs[0] and [t.shape for t in via_file.scores["joint"]] == [(24, 4), (24, 4)]
    res = json.loads((runs[0] / "results.json").read_text())
    res["seeds"] = [0, 2, 7]
    (runs[0] / "results.json").write_text(json.dumps(res))
    with pytest.raises(ValueError) as e:
        read_scores(runs[0])
    assert str(e.value) == f"{runs[0] / SCORES_FILE}: no scores ['joint/seed7']"
    res.pop("scores")
    (runs[0] / "results.json").write_text(json.dumps(res))
    with pytest.raises(ValueError) as e:
        read_scores(runs[0])
    assert str(e.value) == (f"{runs[0]}: no scores.safetensors named by its results.json (a run made before s2i saved"
                            " test scores, or copied without the file): rerun s2i eval to fuse it")


def test_one_fused_run_of_two_streams_fuses_alone_to_the_same_scores(two_runs, tmp_path):
    runs = _copy(two_runs, tmp_path)
    both = fuse_runs(runs, tmp_path / "both", weights=[3.0, 1.0]).dump()
    alone = fuse_runs([tmp_path / "both"], tmp_path / "alone", weights=[3.0, 1.0]).dump()
    assert alone["stream"] == "joint+motion" and alone["seeds"] == [0, 2] and len(alone["fused_from"]) == 1
    for key in ("top1", "top5", "per_seed", "confusion_matrix", "streams", "split", "num_classes"):
        assert alone[key] == both[key], key


def test_write_scores_stores_float_tensors_ids_labels_and_the_header(tmp_path):
    per_stream = {"bone": [torch.tensor([[1.0, 2.0]], dtype=torch.float64), torch.tensor([[3.0, 4.0]])]}
    info = write_scores(tmp_path, per_stream, [3, 8], [5], torch.tensor([1], dtype=torch.int32), {"protocol": "p"})
    assert info == {"file": SCORES_FILE, "sha256": file_sha256(tmp_path / SCORES_FILE)}
    with safe_open(str(tmp_path / SCORES_FILE), framework="pt") as f:
        assert f.metadata() == {"protocol": "p", "streams": '["bone"]', "seeds": "[3, 8]"}
        assert sorted(f.keys()) == ["bone/seed3", "bone/seed8", "labels", "test_ids"]
        assert f.get_tensor("bone/seed3").dtype == torch.float32 and f.get_tensor("bone/seed8").tolist() == [[3, 4]]
        assert f.get_tensor("test_ids").dtype == torch.int64 and f.get_tensor("test_ids").tolist() == [5]
        assert f.get_tensor("labels").dtype == torch.int64 and f.get_tensor("labels").tolist() == [1]

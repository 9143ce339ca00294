"""The README's short headline table: the runs declared in headline.yaml against random init and the best
like-for-like anchor; the verdict rule; the declaration's validation errors."""

from __future__ import annotations

import pytest

from s2i.cli import main
from s2i.evaluation.headline_table import compare_intervals, headline_table, verdict
from s2i.evaluation.results import new_run_id, write_results

ARCH = {"backbone": "vit_tiny_patch16_224", "backbone_kwargs": {"depth": 1}, "img_size": [32, 32], "patch_size": 8}
HEADLINE = """headlines:
  - dataset: toy
    split: xview
    reason: the encoder we ship
    ours: [ours/linear]
    random_init: [random/linear]
"""


def _run(folder, top1s, init, method, n=200, split="xview", **checkpoint):
    seeds = list(range(len(top1s)))
    write_results(folder, {
        "protocol": "linear", "top1": sum(top1s) / len(top1s), "top5": 99.0, "seeds": seeds, "dataset": "toy",
        "split": split, "stream": "joint", "method": method, "init": init, "num_test_samples": n,
        "run_id": new_run_id(), "checkpoint_hash": f"sha256:{init}", "checkpoint": {**ARCH, "init": init, **checkpoint},
        "per_seed": [{"seed": s, "top1": t, "top5": 99.0} for s, t in zip(seeds, top1s)],
        "hyperparameters": {"method": "linear", "linear": {"test_crops": 0}}})


@pytest.fixture
def results(tmp_path):
    """A tiny committed-results folder: ours and random init (linear probe), anchors, the declaration."""
    root = tmp_path / "results"
    _run(root / "ours" / "linear", [80.0, 81.0], "pretrained", "s2i-x")
    _run(root / "random" / "linear", [60.0], "random", "random init (s2i-x architecture)")
    (root / "anchors.yaml").write_text(
        "datasets:\n  toy: {title: Toy, test: 200}\nanchors:\n"
        "  - {dataset: toy, split: xview, method: A, top1: 84.0, protocol: frozen features,"
        " compare_with: linear probe}\n"
        "  - {dataset: toy, split: xview, method: B, top1: 83.0, protocol: frozen, compare_with: linear probe (x)}\n"
        "  - {dataset: toy, split: xview, method: C, top1: 99.0, protocol: cosine 1-NN, compare_with: kNN k = 1}\n")
    (root / "headline.yaml").write_text(HEADLINE)
    return root


def test_short_table_pinned(results, capsys):
    assert main(["results", "--readme", str(results)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[:3] == [
        "| data set, split (n test) | protocol | ours (encoder) | random init, same architecture |"
        " best published, like for like | verdict |",
        "|---|---|---|---|---|---|",
        "| Toy xview (200) | linear probe, frozen features, 1 test view | 80.5 ± 0.7 [74.5–85.4] (s2i-x; 2 seeds,"
        " 1 checkpoint) | 60.0 [53.1–66.5] (1 seed) | 84.0 [78.3–88.4] A: frozen features |"
        " above random; inside interval of published |"]
    assert rows[3] == "" and len(rows) == 5 and "[docs/results.md](docs/results.md)" in rows[4]
    assert "Wilson" in rows[4] and "`headline.yaml`" in rows[4]


def test_verdict_says_above_or_below_only_when_intervals_do_not_overlap():
    assert compare_intervals((70.0, 80.0), (60.0, 69.9)) == "above"
    assert compare_intervals((50.0, 59.9), (60.0, 69.0)) == "below"
    assert compare_intervals((65.0, 75.0), (60.0, 69.0)) == "inside interval"
    assert compare_intervals((69.0, 80.0), (60.0, 69.0)) == "inside interval"  # touching is overlapping
    assert compare_intervals((50.0, 90.0), (60.0, 69.0)) == "inside interval"  # one inside the other
    assert verdict((70.0, 80.0), (60.0, 69.0), None) == "above random"
    assert verdict((65.0, 75.0), (60.0, 69.0), (90.0, 95.0)) == "inside interval of random; below published"
    assert verdict((65.0, 75.0), None, (74.0, 80.0)) == "inside interval of published"


@pytest.mark.parametrize(("edit", "message"), [
    (("ours: [ours/linear]", "ours: [ours/nope]"), r"headline.yaml: entry 1 \(toy xview\): no committed result"
                                                     r" folder 'ours/nope'"),
    (("ours: [ours/linear]", "ours: [../results/ours/linear]"), r"entry 1 \(toy xview\): no committed result folder"),
    (("dataset: toy", "dataset: other"), r"headline.yaml: entry 1 \(other xview\): data set 'other' is not in"
                                         r" .*anchors.yaml's datasets \(toy\)"),
    (("    reason: the encoder we ship\n", ""), r"headline.yaml: not a headline file .*entry 1 \(toy\): reason: Field"
                                               r" required"),
    (("reason:", "reasn:"), r"entry 1 \(toy\): reasn: unknown key"),
    (("ours: [ours/linear]", "ours: []"), r"entry 1 \(toy\): ours: List should have at least 1 item"),
    (("ours: [ours/linear]", "ours: [random/linear]"),
     r"entry 1 \(toy xview\): .*random-init run, declared under ours"),
    (("random_init: [random/linear]", "random_init: [ours/linear]"), r"not a random-init run"),
])
def test_declaration_errors_name_the_file_and_entry(results, capsys, edit, message):
    (results / "headline.yaml").write_text(HEADLINE.replace(*edit))
    with pytest.raises(ValueError, match=message):
        headline_table(results)
    assert main(["results", "--readme", str(results)]) == 2  # one line, no traceback
    err = capsys.readouterr().err
    assert err.startswith(f"error: {results / 'headline.yaml'}") and err.count("\n") == 1


def test_declared_runs_must_fit_their_entry(results):
    """The baseline is random init at ours' architecture on the same whole test set and split; a run counts once."""
    _run(results / "random" / "wide", [60.0], "random", "random init", img_size=[64, 64])
    (results / "headline.yaml").write_text(HEADLINE.replace("random/linear", "random/wide"))
    with pytest.raises(ValueError, match=r"random/wide/results.json is not at ours' architecture"):
        headline_table(results)
    _run(results / "random" / "subset", [60.0], "random", "random init", n=150)
    (results / "headline.yaml").write_text(HEADLINE.replace("random/linear", "random/subset"))
    with pytest.raises(ValueError, match=r"scored 150 test sequences, not the 200"):
        headline_table(results)
    _run(results / "random" / "xsub", [60.0], "random", "random init", split="xsub")
    (results / "headline.yaml").write_text(HEADLINE.replace("random/linear", "random/xsub"))
    with pytest.raises(ValueError, match=r"entry 1 \(toy xview\): .*random/xsub/results.json is on toy xsub, not toy"
                                         r" xview"):
        headline_table(results)
    (results / "headline.yaml").write_text(HEADLINE.replace("[ours/linear]", "[ours/linear, ours/linear]"))
    with pytest.raises(ValueError, match=r"is the same run as"):
        headline_table(results)
    (results / "headline.yaml").unlink()
    with pytest.raises(FileNotFoundError, match=r"headline.yaml: no headline declaration"):
        headline_table(results)

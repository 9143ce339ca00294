"""The table of every committed result: result files and anchors -> one Markdown table; small copies to commit."""

from __future__ import annotations

import json

import pytest

from s2i.cli import main
from s2i.evaluation.headline import all_results_table, save_trimmed, trim_result
from s2i.evaluation.results import load_results, new_run_id, write_results


def _run(folder, protocol, top1s, method="s2i", checkpoint="sha256:aa", n=464, **hp):
    seeds = list(range(len(top1s)))
    write_results(folder, {
        "protocol": protocol, "top1": sum(top1s) / len(top1s), "top5": 99.0, "seeds": seeds, "dataset": "nw-ucla",
        "split": "xview", "stream": "joint", "method": method, "num_test_samples": n, "run_id": new_run_id(),
        "checkpoint_hash": checkpoint, "per_seed": [{"seed": s, "top1": t, "top5": 99.0} for s, t in zip(seeds, top1s)],
        "hyperparameters": {"method": protocol, **hp}, **({"training": {"knn_top1": {"joint": [
            {"1": top1s[0] - 5, "20": top1s[0]}]}}} if protocol == "knn" else {})})
    return folder


def test_headline_rows_protocols_intervals_and_anchors(tmp_path):
    root = tmp_path / "results"
    _run(root / "ucla" / "lin", "linear", [83.0, 84.0, 84.1], linear={"test_crops": 0})
    _run(root / "ucla" / "lin-tta", "linear", [87.6], linear={"test_crops": 16, "augmented_copies": 8})
    _run(root / "ucla" / "knn", "knn", [72.4], knn={"ks": [1, 10, 20], "report_k": None})
    for seed, top1 in enumerate([70.0, 74.0]):  # one pretraining per seed: the pretraining varies
        _run(root / "ucla" / f"ft{seed}", "finetune", [top1], method="random", checkpoint=f"sha256:r{seed}")
    (root / "anchors.yaml").write_text(
        "datasets:\n  nw-ucla: {title: NW-UCLA, test: 464}\n  ntu60: {title: NTU-60, test: 16487}\n"
        "anchors:\n  - {dataset: nw-ucla, split: xview, method: SOfA, top1: 92.9, protocol: frozen features,"
        " compare_with: linear probe}\n  - {dataset: ntu60, split: xsub, method: MAMP, top1: 84.9,"
        " protocol: linear, compare_with: linear probe}\n")
    table = all_results_table(root)
    rows = table.splitlines()
    assert rows[4] == ("| NW-UCLA xview (464) | linear probe, frozen features, 1 test view | s2i | 83.7 ± 0.6"
                       " | 80.1–86.8 | 3 seeds, 1 checkpoint | `ucla/lin` |")
    assert ("| | linear probe, frozen features, 8 augmented training copies, 1 view + 16 test-time crops (TTA: not the"
            " headline protocol) | s2i | 87.6 | 84.3–90.3 | 1 seed | `ucla/lin-tta` |") in table
    assert "| kNN (cosine), k = 1, frozen features | s2i | 67.4 |" in table     # k = 1 from the per-k record
    assert "| kNN (cosine), k = 20, frozen features | s2i | 72.4 |" in table    # and the reported k
    assert ("| fine-tune, 1 test view | random | 72.0 ± 2.8 | 67.7–75.9 | 2 runs: 2 checkpoints, 2 seeds"
            " | `ucla/ft0` (+1) |") in table
    assert "| | frozen features | SOfA | 92.9 | 90.2–94.9 | | published; compare with our linear probe |" in table
    assert "| NTU-60 xsub (16487) | | s2i | no committed result file yet |" in table  # an anchor with no file of ours
    assert table.index("NTU-60") < table.index("NW-UCLA") and "Wilson" in table
    # the same file twice (a copied run folder) is refused, not pooled
    (root / "copy").mkdir()
    (root / "copy" / "results.json").write_bytes((root / "ucla" / "lin" / "results.json").read_bytes())
    with pytest.raises(ValueError, match="same run as"):
        all_results_table(root)
    (root / "anchors.yaml").write_text("anchors: [{dataset: nw-ucla}]\n")
    with pytest.raises(ValueError, match="anchors.yaml: not an anchors file"):
        all_results_table(root)


def test_save_trimmed_keeps_provenance_small_and_never_replaces(tmp_path, capsys):
    run = _run(tmp_path / "runs" / "ft-seed0", "finetune", [90.0])
    big = json.loads((run / "results.json").read_text())
    big["training"] = {"curve": list(range(20_000))}  # per-epoch curves of a long run
    big["git"] = {"commit": "a" * 40, "dirty": False}
    (run / "results.json").write_text(json.dumps(big))
    (small,) = load_results([run])
    kept = trim_result(small, max_bytes=4_000)
    assert "training" not in kept and kept["trimmed"] == ["training"] and "_path" not in kept
    assert kept["git"] == big["git"] and kept["run_id"] == big["run_id"] and kept["per_seed"] == big["per_seed"]
    assert trim_result(small, max_bytes=10**7).get("trimmed") is None  # small enough: nothing dropped
    assert main(["results", str(run), "--save", str(tmp_path / "keep")]) == 0
    saved = json.loads((tmp_path / "keep" / "ft-seed0" / "results.json").read_text())
    assert len(json.dumps(saved)) < 32_000 and saved["saved_from"]["path"] == str(run / "results.json")
    assert saved["top1"] == 90.0 and saved["run_id"] == big["run_id"]
    with pytest.raises(FileExistsError, match="already there"):
        save_trimmed([run], tmp_path / "keep")
    capsys.readouterr()
    assert main(["results", "--table", str(tmp_path / "keep")]) == 0
    assert "| fine-tune, 1 test view | s2i | 90.0 |" in capsys.readouterr().out
    assert main(["results", str(run), "--table", str(tmp_path / "keep")]) == 2

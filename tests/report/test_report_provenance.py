"""Section 5b of the report: the pretraining run's provenance and one row per results.json, from inputs built here."""

import json
import re

from s2i.evaluation.record import load_record
from s2i.report.build import _Ctx, _section_provenance
from s2i.report.discover import RunInputs
from s2i.report.html import Section

PROV = {"seed": 3, "device": {"gpu": "H100", "world_size": 1, "precision": "bf16-mixed"},
        "packages": {"torch": "2.1", "timm": "1.0"},
        "stores": [{"path": "/d/ntu", "format": "ntu25", "split": "xsub", "items": 10,
                    "content_hash": "sha256:" + "ab" * 32}]}


def section(tmp_path, provenance, results, config_text=None):
    run = tmp_path / "run"
    (run / "pretrain").mkdir(parents=True, exist_ok=True)
    (run / "pretrain" / "metrics.json").write_text('{"loss": 0.5}')
    inp = RunInputs(root=run, pretrain=run / "pretrain", provenance=provenance, config_text=config_text,
                    results=results)
    sec = Section("provenance", "5b. Provenance")
    _section_provenance(sec, _Ctx(inp, tmp_path / "files", 1, False))
    return sec.blocks


def cells(block):
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", block) if "<td>" in row]


def result(tmp_path, **fields):
    f = tmp_path / "run" / "linear" / "results.json"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps({"protocol": "linear", "top1": 50.0, "top5": 90.0, "dataset": "d", "split": "s",
                             "stream": "joint", **fields}))
    return load_record(f)


def test_pretraining_table_and_files(tmp_path):
    blocks = section(tmp_path, PROV, [], config_text="a: 1\n")
    assert cells(blocks[0]) == [["pretraining run", str(tmp_path / "run" / "pretrain")], ["seed", "3"],
                                ["device", "H100"], ["world size", "1"], ["precision", "bf16-mixed"],
                                ["packages", "torch 2.1, timm 1.0"],
                                ["store 1", "/d/ntu (ntu25, split xsub, 10 items, sha256:abababababab…)"]]
    assert [re.search(r"<summary>(.*?)</summary>", b).group(1) for b in blocks[1:]] == [
        "config.yaml (pretraining)", "provenance.json (pretraining)", "metrics.json (pretraining)"]


def test_cpu_device_and_no_provenance(tmp_path):
    cpu = dict(PROV, device={"root_device": "cpu", "cpu": "x86", "cpu_threads": 8})
    assert cells(section(tmp_path, cpu, [])[0])[2] == ["device", "cpu (x86, 8 threads)"]
    blocks = section(tmp_path, None, [])
    assert blocks == ['<p class="note">Skipped (pretraining): no provenance.json.</p>']


def test_one_row_and_one_collapsed_block_per_readable_results_file(tmp_path):
    ok = result(tmp_path, seeds=[0, 1], data_hashes={"train": "sha256:" + "cd" * 32}, checkpoint_hash="c1",
                device="cuda", environment={"versions": {"s2i": "0.1"}}, wall_time_s=12.5, config={"a": 1})
    blocks = section(tmp_path, None, [ok])  # an unreadable results.json is a RunInputs.result_errors line
    assert cells(blocks[1]) == [["linear", "0,1", "train: sha256:cdcdcdcdcdcd…", "c1", "cuda", "s2i 0.1", "12.5"]]
    assert len(blocks) == 3 and "<summary>provenance of linear/results.json</summary>" in blocks[2]
    shown = json.loads(re.search(r"<pre>(.*)</pre>", blocks[2], re.S).group(1).replace("&quot;", '"'))
    assert shown["config"] == {"a": 1} and shown["hyperparameters"] is None and "_path" not in shown
    assert section(tmp_path, None, []) == blocks[:1]

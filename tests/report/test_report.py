"""s2i report on a tiny demo folder: a self-contained page whose every image decodes, all sections present,
notes (never a crash) when inputs are absent, the MAE reconstruction's de-normalisation, the command line,
and the page rendered by headless Chromium with every image loaded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers_report import Page, browser, chromium_check, decode_data_uri, open_image

from s2i.cli import main
from s2i.outputs import MARKER
from s2i.report import write_report
from s2i.report.reconstruct import load_pretrain_module, reconstruct

SECTIONS = ("s2i-images", "two-formats", "mae", "curves", "classes", "tsne", "results", "provenance")


def parse(path: Path) -> Page:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    page = Page(text)
    assert not page.problems, page.problems
    return page


def test_the_page_is_self_contained_and_every_image_decodes(report):
    assert report.name == "report.html" and report.parent.name == "demo"
    page = parse(report)
    assert "script" not in page.tags and "link" not in page.tags and not page.external  # no JS, no network
    files = report.parent / "report_files"
    images = [p for p in files.iterdir() if p.name != MARKER]  # besides the folder's s2i marker
    assert page.images and len(page.images) == len(images)  # every file shown, every image a file
    gifs = 0
    for img in page.images:
        assert img.get("alt", "").strip(), img.get("data-file")
        mime, data = decode_data_uri(img["src"])
        beside = files / img["data-file"]
        assert beside.read_bytes() == data  # the embedded image is the file beside the page
        decoded = open_image(data)
        assert decoded.width > 10 and decoded.height > 10
        if mime == "image/gif":
            gifs += 1
            assert 1 < decoded.n_frames <= 40 and decoded.height == 250  # the skeleton drawn 250 px tall
    assert gifs == 2 + 2  # two samples + the two formats of the pair


def test_all_sections_are_there_with_their_content(report):
    page = parse(report)
    assert tuple(page.sections) == SECTIONS
    assert not page.errors
    for sid in ("s2i-images", "two-formats", "mae", "classes", "tsne", "results", "provenance"):
        assert not [n for n in page.sections[sid] if n.startswith("Skipped")], (sid, page.sections[sid])
    names = {p.name for p in (report.parent / "report_files").iterdir()} - {MARKER}
    assert {"sample1_skeleton.gif", "sample1_streams.png", "sample2_streams.png", "pair1_a.gif", "pair1_b.gif",
            "pair1_s2i.png", "mae_sample1.png", "mae_sample2.png", "pretrain_loss.png", "confusion_1.png",
            "per_class_1.png", "confusion_2.png", "per_class_2.png", "tsne.png"} <= names
    text = report.read_text()
    assert "R = x, G = y, B = z" in text
    assert "de-normalised with the target patch&#x27;s own mean and standard deviation" in text
    assert "pretrained vs random init" in text  # the t-SNE has the random-init panel
    for stream in ("joint", "bone", "motion", "bone_motion"):
        assert f"<td>{stream}</td>" in text
    assert "<td>eval/linear-pretrained</td>" in text and "<td>eval/linear-random</td>" in text
    assert "limb0" in text and "<summary>config.yaml (pretraining)</summary>" in text


def test_reconstruction_keeps_visible_patches_and_matches_the_training_loss(demo):
    from s2i.models.mae import patchify
    from s2i.skeleton import collate_sequences
    from s2i.store import SkeletonStore

    prov = json.loads((demo / "pretrain" / "provenance.json").read_text())
    module = load_pretrain_module(demo / "pretrain", prov)
    store = SkeletonStore(prov["stores"][0]["path"])
    batch = collate_sequences([store[i] for i in range(3)], max_persons=2)
    joints, lengths = torch.from_numpy(batch.joints), torch.from_numpy(batch.lengths)
    rec = reconstruct(module, "ntu25", joints, lengths, seed=5)
    mask = torch.from_numpy(rec.mask)
    assert torch.allclose(mask.mean(1), torch.full((3,), 0.75), atol=0.05)
    visible = patchify(torch.from_numpy(rec.original), 8)[mask == 0]
    assert torch.allclose(patchify(torch.from_numpy(rec.reconstructed), 8)[mask == 0], visible, atol=1e-5)
    with torch.no_grad():  # the same images, mask and loss as the training step's MAE
        images = module.encoders["ntu25"](joints, lengths)
        noise = module.mae.mask_noise(3, torch.Generator().manual_seed(5))
        loss, pred, mask2 = module.mae(images, noise=noise)
    assert torch.equal(mask2, mask) and np.allclose(rec.original, images.numpy())
    assert float(loss) == pytest.approx(float(np.mean(rec.loss)), rel=1e-4)
    # the masked patches are the prediction de-normalised with each target patch's mean and std, then the
    # backbone's input normalisation undone (patch pixels are (row, column, channel), channel last)
    target = patchify(module.mae.normalize(images), 8)
    mean, std = target.mean(-1, keepdim=True), (target.var(-1, keepdim=True) + 1e-6) ** 0.5
    channel = torch.arange(target.shape[-1]) % 3
    expect = ((pred * std + mean) * module.mae.std.flatten()[channel] + module.mae.mean.flatten()[channel]).clamp(0, 1)
    got = patchify(torch.from_numpy(rec.reconstructed), 8)
    assert torch.allclose(got[mask == 1], expect[mask == 1], atol=1e-5)


def _run_copy(demo: Path, dest: Path, store: str | None, checkpoints: bool) -> Path:
    shutil.copytree(demo / "pretrain", dest, ignore=None if checkpoints else shutil.ignore_patterns("*.ckpt"))
    prov = json.loads((dest / "provenance.json").read_text())
    if store is not None:
        prov["stores"][0]["path"] = store
        (dest / "provenance.json").write_text(json.dumps(prov))
    return dest


def test_missing_inputs_give_notes_not_crashes(demo, tmp_path):
    run = _run_copy(demo, tmp_path / "run", "/nonexistent/store", checkpoints=False)
    page = parse(write_report(run, progress=False))
    assert not page.errors
    notes = page.sections
    assert notes["s2i-images"] == ["Skipped: no store (pass --data STORE) — the sample sequences come from its"
                                   " test split."]
    assert notes["two-formats"][0].startswith("Skipped: this comparison needs the same motion recorded in two")
    assert "has no saved model (checkpoints/last.ckpt)" in notes["mae"][0]
    assert notes["classes"][0].startswith("Skipped: no results.json")
    assert notes["tsne"][0] == "Skipped: no store with a test split (pass --data STORE)."
    assert notes["results"] == ["Skipped: no results.json below the run."]
    assert "/nonexistent/store" in (run / "report.html").read_text()  # the header says which store is missing
    assert {p.name for p in (run / "report_files").iterdir()} == {"pretrain_loss.png", MARKER}


def test_results_only_folder_and_broken_results_file(demo, tmp_path):
    root = tmp_path / "evals"
    shutil.copytree(demo / "eval", root / "eval")
    (root / "eval" / "broken").mkdir()
    (root / "eval" / "broken" / "results.json").write_text("{not json")
    res = json.loads((root / "eval" / "linear-random" / "results.json").read_text())
    res["training"] = {"finetune": {"joint": [{"seed": 0, "train_loss": [1.4, 1.1, 0.9], "val_top1": [30.0, 50.0, 55.0],
                                               "selected_epoch": 2}]}}  # what a fine-tuning run logs per epoch
    (root / "eval" / "linear-random" / "results.json").write_text(json.dumps(res))
    page = parse(write_report(root, tmp_path / "out" / "page.html", samples=1, progress=False))
    files = tmp_path / "out" / "page_files"
    assert {"confusion_2.png", "eval_train_loss.png", "eval_val_top1.png"} <= {p.name for p in files.iterdir()}
    assert not page.errors
    assert page.sections["mae"][0].startswith("Skipped: no pretraining run")
    assert page.sections["curves"] == ["Skipped: no pretraining loss curve (loss_curve.csv of a pretraining run)."]
    assert page.sections["provenance"][0] == "Skipped (pretraining): no provenance.json."
    assert any("cannot read a results file" in n for n in page.sections["results"])
    assert not [n for n in page.sections["s2i-images"] + page.sections["tsne"] if n.startswith("Skipped")]


def test_command_line(demo, tmp_path, capsys):
    run = _run_copy(demo, tmp_path / "run", "/nonexistent/store", checkpoints=True)
    assert main(["report", str(run), "--quiet", "--out", str(tmp_path / "r.html")]) == 0
    assert f"report: {tmp_path / 'r.html'}" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nothing'}: no such run folder"
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "neither a pretraining run" in err
    assert main(["report", str(run), "--data", str(tmp_path / "empty")]) == 2
    assert "not a prepared store" in capsys.readouterr().err
    with pytest.raises(ValueError, match="samples must be at least 1"):
        write_report(run, samples=0)


needs_browser = pytest.mark.skipif(browser() is None, reason="no chromium / chromium-browser / google-chrome on PATH"
                                                              " for the headless rendering check")


@needs_browser
def test_chromium_renders_the_page_with_every_image(report, tmp_path):
    from PIL import Image

    shot = tmp_path / "report.png"
    verdict = chromium_check(browser(), report, shot)
    assert verdict["images"] == len(Page(report.read_text()).images) > 0
    assert verdict["broken"] == [] and verdict["errors"] == []
    img = Image.open(shot).convert("L")
    assert img.size == (1280, 6000) and len(img.getcolors(256) or []) > 16  # drawn, not a blank page


@needs_browser
def test_the_chromium_check_sees_a_broken_image(report, tmp_path):
    text = report.read_text()
    start = text.index('src="data:image/png;base64,') + len('src="data:image/png;base64,')
    bad = tmp_path / "broken.html"
    bad.write_text(text[:start] + "AAAAnotapng" + text[start + 400:])
    verdict = chromium_check(browser(), bad)
    assert len(verdict["broken"]) == 1 and verdict["errors"]


def test_skeleton_gif_of_2d_data_with_missing_joints(tmp_path):
    from s2i.formats import get_format
    from s2i.report.animate import skeleton_gif
    from s2i.skeleton import SkeletonSequence

    spec = get_format("coco17")
    rng = np.random.default_rng(0)
    joints = (rng.normal(0, 20, (1, 90, 17, 2)) + 200).astype(np.float32)
    joints[0, 10:20, 3] = np.nan  # a joint missing for a while
    seq = SkeletonSequence(joints, "coco17", confidence=np.ones((1, 90, 17), np.float32))
    gif = open_image(skeleton_gif(seq, spec, tmp_path / "s.gif", height=120).read_bytes())
    assert gif.n_frames == 40 and gif.height == 120  # one panel (x-y) for 2D, 90 frames cut to 40
    assert 0.6 * 120 <= gif.width <= 2.2 * 120  # as wide as the motion needs, within limits


def test_skeleton_gif_of_3d_data_draws_both_views_in_part_colours(tmp_path):
    from s2i.formats import get_format
    from s2i.report.animate import PART_COLORS, skeleton_gif
    from s2i.skeleton import SkeletonSequence

    spec = get_format("ntu25")
    joints = np.random.default_rng(0).normal(0, 0.3, (2, 12, 25, 3)).astype(np.float32)
    gif = open_image(skeleton_gif(SkeletonSequence(joints, "ntu25", fps=30.0), spec, tmp_path / "s.gif",
                                  height=100).read_bytes())
    assert gif.n_frames == 12 and gif.height == 100 and gif.info["duration"] == 40  # 33 ms raised to the 40 floor
    rgb = np.asarray(gif.convert("RGB")).astype(int)
    split = int(np.argmax((rgb == 200).all(-1).sum(0)))  # the grey line between front (x-y) and side (z-y)
    assert 0.6 * 100 <= split <= 2.2 * 100 and 0.6 * 100 <= gif.width - split <= 2.2 * 100
    for view in (rgb[:, :split], rgb[:, split + 1:]):
        colours = {tuple(c) for c in view.reshape(-1, 3)}
        for part, hex_colour in PART_COLORS.items():
            assert tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)) in colours, part


def test_one_person_images_name_the_bands_without_person_blocks(tmp_path):
    from s2i.report.figures import band_rows, image_row_png

    assert [(a, b, p) for a, b, p, _ in band_rows(40, 1)] == [(0, 8, 0), (8, 16, 0), (16, 24, 0), (24, 32, 0),
                                                              (32, 40, 0)]
    assert band_rows(224, 2)[5][:3] == (112, 135, 1)  # person 2's torso band starts half-way
    png = image_row_png([np.random.default_rng(0).random((3, 40, 32))], ["joint"], tmp_path / "one.png", persons=1)
    assert open_image(png.read_bytes()).width > 100

"""NTU denoising parity with the field's reference scripts (microsoft/SGN data/ntu/get_raw_skes_data.py +
get_raw_denoised_data.py, used unchanged by CTR-GCN and MAMP), on synthetic files built by the one NTU
writer and on the real samples.

Every expected frame list, actor and actor order below is derived by hand from the rules; the comment
above each says which rule decides. Synthetic joint 0 carries its origin in z: z = 2 + 0.5 * body code +
0.001 * raw frame, so ``origins`` recovers (body id, raw frame) for every output frame of every actor.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from s2i.cli import prepare as prepare_cli
from s2i.readers import read_sequence
from s2i.readers.ntu import RawBody, denoise_bodies, parse_ntu_skeleton, pooled_variance, read_ntu
from s2i.sources import PrepareOptions
from s2i.store import SkeletonStore
from s2i.store.prepare import prepare
from s2i.store.quality import quality_report, report_markdown
from s2i.testing import write_ntu

from helpers import is_real, sample_path

IDS = ["A", "B", "C", "D"]  # body code k <-> body id IDS[k]


def upright(code: int, frames, scale: float = 1.0, amp: float = 0.0, wide: bool = False) -> dict[int, np.ndarray]:
    """{raw frame: (25, 3)} of one body: an upright figure (x spread 0.4 * scale, y spread 1.7 * scale)
    or, ``wide``, a table-like object (x spread 1.6, y spread 0.2); ``amp`` sways it in x and y."""
    out = {}
    for f in frames:
        xyz = np.zeros((25, 3))
        if wide:
            xyz[:, 0], xyz[:, 1] = np.linspace(-0.8, 0.8, 25), np.linspace(-0.1, 0.1, 25)
        else:
            xyz[:, 0], xyz[:, 1] = scale * np.linspace(-0.2, 0.2, 25), scale * np.linspace(-0.9, 0.8, 25)
        xyz[:, :2] += amp * np.sin(f / 5)
        xyz[:, 2] = 2.0 + 0.5 * code + 0.001 * f
        out[f] = xyz
    return out


def write(tmp_path, n_frames: int, bodies: dict[str, dict[int, np.ndarray]], name="S001C001P001R001A050"):
    """Write a raw file: frame f lists the bodies present in it, in the dict's (first-seen) order."""
    frames = [[(bid, b[f]) for bid, b in bodies.items() if f in b] for f in range(n_frames)]
    return write_ntu(tmp_path / f"{name}.skeleton", frames)


def origins(seq, actor: int) -> list[tuple[str, int] | None]:
    """(body id, raw frame) of each output frame of one actor, None where the actor is absent."""
    out: list[tuple[str, int] | None] = []
    for z in seq.joints[actor, :, 0, 2].astype(np.float64):
        if np.isnan(z):
            out.append(None)
            continue
        code = int((z - 2.0 + 1e-4) // 0.5)
        out.append((IDS[code], int(round((z - 2.0 - 0.5 * code) / 0.001))))
    return out


def kinds(seq) -> list[str]:
    return [d.split()[0].rstrip(":") for d in seq.meta["denoise"]]


def test_empty_frames_in_the_middle_are_dropped(tmp_path):
    # Rule 4 (frames): raw frames with no body are dropped wherever they are (the reference counts only
    # non-empty frames); keep-gaps keeps them as NaN. Empty raw frames: 0, 10, 11, 12.
    a = upright(0, [*range(1, 10), *range(13, 30)])
    p = write(tmp_path, 30, {"A": a}, name="S001C001P001R001A001")
    ref = read_ntu(p)
    assert origins(ref, 0) == [("A", f) for f in [*range(1, 10), *range(13, 30)]]
    assert kinds(ref) == ["drop-empty-frames"] and "4 raw frame(s)" in ref.meta["denoise"][0]
    gaps = read_ntu(p, denoise="keep-gaps")  # leading empty frame 0 trimmed, 10-12 kept as NaN
    assert origins(gaps, 0) == [("A", f) for f in range(1, 10)] + [None] * 3 + [("A", f) for f in range(13, 30)]
    assert gaps.meta["denoise_mode"] == "keep-gaps" and ref.meta["denoise_mode"] == "reference"


def test_two_object_like_bodies_keep_the_last(tmp_path):
    # Rule 2 (spread): in first-seen order, A (all frames wide: ratio 1 >= 0.69754) is dropped; then one
    # body is left, so the loop stops and B is kept although it is wide too. Nothing else is dropped.
    p = write(tmp_path, 30, {"A": upright(0, range(30), wide=True), "B": upright(1, range(30), wide=True)})
    seq = read_ntu(p)
    assert seq.meta["actors"] == [["B"]]
    assert origins(seq, 0) == [("B", f) for f in range(30)]
    assert kinds(seq) == ["drop-object", "keep-object"]
    assert "drop-object body A" in seq.meta["denoise"][0] and "keep-object body B" in seq.meta["denoise"][1]


def test_spread_ratio_at_the_threshold_drops(tmp_path):
    # Rule 2 (spread): the reference drops at ratio >= 0.69754. 34877 of 50000 wide frames is exactly
    # 0.69754, so X is dropped and Y kept.
    n, wide = 50_000, 34_877
    up = upright(0, [0])[0].astype(np.float32)
    flat = upright(0, [0], wide=True)[0].astype(np.float32)
    x = RawBody("X", list(range(n)), [flat] * wide + [up] * (n - wide), [np.zeros(25, np.float32)] * n)
    y = RawBody("Y", list(range(n)), [up] * n, [np.zeros(25, np.float32)] * n)
    kept, log = denoise_bodies([x, y])
    assert [b.body_id for b in kept] == ["Y"] and log[0].startswith("drop-object body X")


def test_spread_lowers_the_motion_of_a_kept_body(tmp_path):
    # Rule 2 (spread) + rule 1 (ranking): A is big (scale 1.4) but wide in 10 of 40 frames (ratio 0.25 <
    # 0.69754: kept); the wide frames make its pooled variance the highest, but its motion is lowered to
    # its 30 clean frames (scale 1.4: ~0.51), below B's (scale 1.5: ~0.59). So B is actor 1.
    a = upright(0, range(40), scale=1.4)
    a.update(upright(0, range(10), wide=True))
    for f in range(10):  # the wide frames sit far to the side: they add a lot of pooled variance
        a[f][:, 0] += 3.0
    b = upright(1, range(40), scale=1.5)
    _, raw = parse_ntu_skeleton(write(tmp_path, 40, {"A": a, "B": b}))
    assert pooled_variance(np.stack(raw[0].xyz)) > pooled_variance(np.stack(raw[1].xyz))
    seq = read_ntu(tmp_path / "S001C001P001R001A050.skeleton")
    assert seq.meta["actors"] == [["B"], ["A"]]
    assert kinds(seq) == ["clean-motion", "rank"]


def test_three_bodies_ranked_by_pooled_variance(tmp_path):
    # Rule 1 (ranking by pooled variance, size counts): BIG (scale 1.5, still: ~0.62), MID (scale 1, sway
    # 0.05: ~0.28), SMALL (scale 0.5, sway 0.3: ~0.2, but by far the most per-joint variance over time).
    # All overlap in every frame, so rule 3 keeps the top two: actor 1 BIG = A, actor 2 MID = B; SMALL = C
    # overlaps both and is dropped.
    p = write(tmp_path, 40, {"C": upright(2, range(40), scale=0.5, amp=0.3),
                             "B": upright(1, range(40), scale=1.0, amp=0.05),
                             "A": upright(0, range(40), scale=1.5)})
    seq = read_ntu(p)
    assert seq.meta["actors"] == [["A"], ["B"]]
    assert origins(seq, 0) == [("A", f) for f in range(40)] and origins(seq, 1) == [("B", f) for f in range(40)]
    assert kinds(seq) == ["rank", "drop-extra"] and "drop-extra body C" in seq.meta["denoise"][1]


def test_retracked_second_actor_sharing_one_frame_is_merged(tmp_path):
    # Rule 3 (actors): A (scale 1.3) is actor 1 (frames 0-39). B (scale 1.0, frames 0-20) overlaps A, so it
    # starts actor 2 (range [0, 20]). C (scale 0.9, frames 20-39) overlaps A; against actor 2 the overlap is
    # min(20, 39) - max(0, 20) = 0 <= 0, so C joins actor 2, and C's data wins the shared frame 20.
    p = write(tmp_path, 40, {"A": upright(0, range(40), scale=1.3), "B": upright(1, range(21)),
                             "C": upright(2, range(20, 40), scale=0.9)})
    seq = read_ntu(p)
    assert seq.meta["actors"] == [["A"], ["B", "C"]]
    assert origins(seq, 1) == [("B", f) for f in range(20)] + [("C", f) for f in range(20, 40)]
    assert kinds(seq) == ["rank", "merge"] and "shared frame" in seq.meta["denoise"][1]


def test_body_before_actor_two_is_dropped(tmp_path):
    # Rule 3 (actors): actor 2's range always starts at frame 0. A (scale 1.3, 0-39) is actor 1; B (1.0,
    # frames 20-39) overlaps A and starts actor 2, whose range becomes [0, 39]; C (0.9, frames 0-14) overlaps
    # A and, against [0, 39], min(39, 14) - max(0, 0) = 14 > 0: dropped, although it never meets B.
    p = write(tmp_path, 40, {"C": upright(2, range(15), scale=0.9), "A": upright(0, range(40), scale=1.3),
                             "B": upright(1, range(20, 40))})
    for mode in ("reference", "keep-gaps"):
        seq = read_ntu(p, denoise=mode)
        assert seq.meta["actors"] == [["A"], ["B"]]
        assert origins(seq, 1) == [None] * 20 + [("B", f) for f in range(20, 40)]
        assert kinds(seq) == ["rank", "drop-extra"]


def test_bodies_overlapping_in_the_middle_lose_frames_without_actors(tmp_path):
    # Rule 4 (frames) + rule 3: raw frames 0-4 hold only a 5-frame blip D (<= 11 frames: dropped), 45-49 are
    # empty. A (scale 1.3, 5-29) is actor 1; B (1.0, 20-44) overlaps A in 20-29 and is actor 2. The reference
    # drops the empty frames (45-49) and, in a multi-body file, the frames where both actors are absent
    # (0-4): 40 frames, raw 5-44.
    p = write(tmp_path, 50, {"D": upright(3, range(5)), "A": upright(0, range(5, 30), scale=1.3),
                             "B": upright(1, range(20, 45))})
    seq = read_ntu(p)
    assert seq.meta["actors"] == [["A"], ["B"]]
    assert origins(seq, 0) == [("A", f) for f in range(5, 30)] + [None] * 15
    assert origins(seq, 1) == [None] * 15 + [("B", f) for f in range(20, 45)]
    assert kinds(seq) == ["drop-short", "rank", "drop-empty-frames", "drop-absent-frames"]


def test_all_bodies_short_keeps_them_all(tmp_path):
    # Item 5: every body is tracked in <= 11 frames; the reference scripts fail (IndexError). s2i keeps all
    # of them and says so (no drop is logged), then ranks and assigns as usual: A (scale 1.3) actor 1, B actor 2.
    p = write(tmp_path, 10, {"B": upright(1, range(8)), "A": upright(0, range(2, 10), scale=1.3)})
    seq = read_ntu(p)
    assert seq.meta["actors"] == [["A"], ["B"]]
    assert origins(seq, 0) == [None] * 2 + [("A", f) for f in range(2, 10)]
    assert kinds(seq) == ["keep-short", "rank"]
    # one short body alone: no length rule at all (the reference keeps a single body as it is)
    one = read_ntu(write(tmp_path, 5, {"A": upright(0, range(5))}, name="S001C001P001R001A001"))
    assert origins(one, 0) == [("A", f) for f in range(5)] and one.meta["denoise"] == []


def test_tracking_gap_is_shifted_like_the_reference(tmp_path):
    # Item 5: B is tracked in raw frames 0-9 and 20-39 (a 10-frame gap). The reference places a body's
    # frames one after the other from its first frame, so B's 30 frames land on 0-29 (the frames after the
    # gap move 10 frames earlier) and 30-39 are empty; keep-gaps puts them where they were (NaN in 10-19).
    p = write(tmp_path, 40, {"A": upright(0, range(40), scale=1.3), "B": upright(1, [*range(10), *range(20, 40)])})
    ref = read_ntu(p)
    assert origins(ref, 1) == [("B", f) for f in [*range(10), *range(20, 40)]] + [None] * 10
    assert kinds(ref) == ["rank", "gap-shift"]
    gaps = read_ntu(p, denoise="keep-gaps")
    assert origins(gaps, 1) == [("B", f) for f in range(10)] + [None] * 10 + [("B", f) for f in range(20, 40)]
    assert kinds(gaps) == ["rank", "keep-gaps"]


def _raw_float32(path) -> tuple[int, dict[str, dict[int, np.ndarray]]]:
    """An independent reading of a raw file: {body id: {frame: (25, 3) float32 from the text}}."""
    lines = path.read_text().split()
    pos, bodies = 1, {}
    n = int(lines[0])
    for f in range(n):
        nb = int(lines[pos])
        pos += 1
        for _ in range(nb):
            bid = lines[pos]
            pos += 11
            nj = int(lines[pos - 1])
            vals = np.array(lines[pos: pos + 12 * nj], dtype=np.float64).reshape(nj, 12)
            bodies.setdefault(bid, {})[f] = vals[:, :3].astype(np.float32)
            pos += 12 * nj
    return n, bodies


REAL = {  # name: actor 1's body id (highest pooled variance), actor 2's body id or None
    "S001C001P001R001A011": ("72057594037931648", None),
    "S001C003P008R002A058": ("72057594037944734", "72057594037944738"),  # pooled variance 0.2370 > 0.1981
    "S002C001P003R001A003": ("72057594037932033", None),
    "S003C001P015R001A034": ("72057594037939480", None),
    "S004C002P003R001A017": ("72057594037934994", None),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_samples_actor_order_and_coordinates(name):
    """The five real samples (their actors' body ids known), else generated files of those names."""
    path = sample_path("ntu_samples", f"{name}.skeleton")
    n, raw = _raw_float32(path)
    seq = read_sequence(path)  # what `s2i encode` reads: the reference default
    if is_real(path):
        expect = [a for a in REAL[name] if a]
    else:  # every generated body is a full-length actor: the larger pooled variance first
        var = {b.body_id: pooled_variance(np.stack(b.xyz)) for b in parse_ntu_skeleton(path)[1]}
        expect = sorted(var, key=var.__getitem__, reverse=True)
        assert len(expect) == (2 if name.endswith("A058") else 1)
    assert seq.meta["actors"] == [[a] for a in expect] and seq.meta["denoise_mode"] == "reference"
    assert seq.joints.shape == (len(expect), n, 25, 3)  # every raw frame holds every body here
    for k, bid in enumerate(expect):
        np.testing.assert_array_equal(seq.joints[k], np.stack([raw[bid][f] for f in range(n)]))
    if len(expect) == 2:
        _, bodies = parse_ntu_skeleton(path)
        var = {b.body_id: pooled_variance(np.stack(b.xyz)) for b in bodies}
        assert var[expect[0]] > var[expect[1]]


def test_prepare_and_inspect_count_sequences_per_rule(tmp_path):
    root = tmp_path / "raw"
    root.mkdir()
    write(root, 30, {"A": upright(0, range(30), wide=True), "B": upright(1, range(30), wide=True)},
          name="S001C001P001R001A050")
    write(root, 10, {"B": upright(1, range(8)), "A": upright(0, range(2, 10), scale=1.3)},
          name="S001C002P002R001A051")
    write(root, 40, {"A": upright(0, range(40), scale=1.3), "B": upright(1, [*range(10), *range(20, 40)])},
          name="S001C003P003R001A052")
    res = prepare("ntu60", root, tmp_path / "store", workers=1, options=PrepareOptions(), progress=False)
    assert res.sequences == 3 and not res.failed
    rep = quality_report(SkeletonStore(tmp_path / "store"))
    assert rep["denoising_modes"] == {"reference": 3}
    assert rep["denoising_sequences"] == {"drop-object": 1, "gap-shift": 1, "keep-object": 1, "keep-short": 1,
                                          "rank": 2}
    assert "| keep-short | 1 | 1 |" in report_markdown(rep)
    # the prepare command's flag becomes PrepareOptions.denoise, which reaches the reader
    parser = argparse.ArgumentParser()
    prepare_cli.add_arguments(parser)
    args = parser.parse_args(["ntu60", "--root", str(root), "--out", "x", "--denoise", "keep-gaps"])
    assert args.denoise == "keep-gaps"
    assert parser.parse_args(["ntu60", "--root", "r", "--out", "x"]).denoise == "reference"
    with pytest.raises(SystemExit):
        parser.parse_args(["ntu60", "--root", "r", "--out", "x", "--denoise", "legacy"])
    prepare("ntu60", root, tmp_path / "gaps", workers=1, options=PrepareOptions(denoise=args.denoise), progress=False)
    stats = json.loads((tmp_path / "gaps" / "manifest.json").read_text())["stats"]
    assert stats["denoising_modes"] == {"keep-gaps": 3} and "keep-gaps" in stats["denoising_sequences"]
    assert "gap-shift" not in stats["denoising_sequences"]

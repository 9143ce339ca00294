"""readers/ntu.py by value: each malformed-file error with its exact message and line, the parsed tracking
states, the float32 spreads and variances, the actor rule on given spans, and the exact denoising log
(issue 18, mutation testing: the survivors of the ``ntu`` group). Small hand-built files and RawBody
lists; the parity with the reference scripts is in test_ntu_denoise_reference.py."""

from __future__ import annotations

import numpy as np
import pytest

from s2i.readers import ReaderError, ntu
from s2i.readers.ntu import (
    RawBody,
    assign_actors,
    denoise_bodies,
    denoise_sequence,
    parse_ntu_name,
    parse_ntu_skeleton,
    pooled_variance,
    read_ntu,
    spread_noisy_frames,
)

INFO = "0 1 1 1 1 0 0.1 0.1 2"


def joint_line(j: int, f: int) -> str:
    """Joint j of frame f: x, y, z, then depth/colour, orientation and a tracking state of 2 (1 for joint 7)."""
    return f"{0.01 * j:.4f} {0.05 * j - 0.6:.4f} {3.0 + 0.001 * f:.4f} 250.1 200.2 1000.3 500.4 0.1 0.2 0.3 0.9 " \
           f"{1 if j == 7 else 2}"


def ntu_lines(frames: int = 3) -> list[str]:
    """One body ("b") in every frame. Line numbers (1-based): frame count 1; frame f: body count 2 + 28 f,
    info 3 + 28 f, joint count 4 + 28 f, joint j at 5 + 28 f + j."""
    out = [str(frames)]
    for f in range(frames):
        out += ["1", f"b {INFO}", "25"] + [joint_line(j, f) for j in range(25)]
    return out


def read_error(tmp_path, text: str) -> str:
    p = tmp_path / "S001C001P001R001A001.skeleton"
    p.write_text(text)
    with pytest.raises(ReaderError) as e:
        read_ntu(p)
    return str(e.value).replace(str(p), "F")


def edit(k: int, line: str):
    def f(lines):
        lines[k - 1] = line
        return "\n".join(lines) + "\n"
    return f


LONG = "1 " * 40  # a count line of 80 characters: the message shows its first 60


@pytest.mark.parametrize("make, message", [
    (lambda ls: "", "F:1: file ends early, expected the frame count"),
    (lambda ls: "0\n", "F: no skeleton data (0 frames, 0 bodies)"),
    (lambda ls: "-1\n", "F:1: implausible frame count -1"),
    (lambda ls: "100000\n", "F:2: file ends early, expected the body count of frame 0"),
    (lambda ls: "100001\n", "F:1: implausible frame count 100001"),
    (lambda ls: "X3\n", "F:1: expected the frame count (one integer), got 'X3'"),
    (lambda ls: f"3\n{LONG}\n", f"F:2: expected the body count of frame 0 (one integer), got {LONG.strip()[:60]!r}"),
    (edit(30, "one"), "F:30: expected the body count of frame 1 (one integer), got 'one'"),
    (edit(32, "24"), "F:32: frame 1: expected 25 joints (Kinect v2), got 24"),
    (edit(32, "x"), "F:32: expected the joint count of frame 1 (one integer), got 'x'"),
    (edit(31, "b 0 1 1"), "F:31: frame 1: body info line needs 10 values, got 4"),
    (lambda ls: "1\n16", "F:2: file ends early in frame 0, expected a body info line"),
    (lambda ls: "1\n17\n", "F:2: implausible body count 17 in frame 0"),
    (lambda ls: "1\n1", "F:2: file ends early in frame 0, expected a body info line"),
    (lambda ls: "\n".join(ls[:14]) + "\n", "F:4: file ends early in frame 0: 11 of 25 joint lines"),
    # joint 0 of frame 1 or 2 (joint-line index 25 or 50): the frame is that index // 25
    (edit(33, "0 0 3 1 2 3"), "F:33: frame 1: joint lines need 12 values each, got 6"),
    (edit(61, joint_line(0, 2).replace("3.0020", "3.O020")),
     f"F:61: frame 2: joint line is not numeric: {joint_line(0, 2).replace('3.0020', '3.O020')[:60]!r}"),
    (edit(64, joint_line(3, 2)[:-1] + "2x"),
     f"F:64: frame 2: joint line is not numeric: {joint_line(3, 2)[:60]!r}"),
    (edit(33, joint_line(0, 1).replace("3.0010", "1e300")), "F:33: frame 1: non-finite joint coordinate (joint 0)"),
    (edit(37, joint_line(4, 1).replace("3.0010", "nan")), "F:37: frame 1: non-finite joint coordinate (joint 4)"),
])
@pytest.mark.filterwarnings("ignore:overflow encountered in cast")  # 1e300 to float32: the point of that case
def test_malformed_files_give_the_exact_message_and_line(tmp_path, make, message):
    assert read_error(tmp_path, make(ntu_lines())) == message


def test_non_ascii_bytes_and_the_size_cap_name_the_ntu_file(tmp_path, monkeypatch):
    p = tmp_path / "x.skeleton"
    p.write_bytes(b"1\n1\n\xe9\n")
    with pytest.raises(ReaderError) as e:
        parse_ntu_skeleton(p)
    assert str(e.value) == f"{p}:3: not a valid NTU .skeleton text file (non-ASCII byte at offset 4)"
    p.write_text("\n".join(ntu_lines()) + "\n")
    monkeypatch.setattr(ntu, "MAX_FILE_BYTES", 100)
    with pytest.raises(ReaderError, match="a NTU .skeleton text file is at most 100 bytes"):
        parse_ntu_skeleton(p)


def test_blank_lines_before_counts_are_skipped_and_the_last_line_needs_no_newline(tmp_path):
    lines = ntu_lines()
    p = tmp_path / "plain.skeleton"
    p.write_text("\n".join(lines))  # no newline after the last joint line
    n, bodies = parse_ntu_skeleton(p)
    spaced = lines[:1] + ["", "  "] + lines[1:29] + ["", "", ""] + lines[29:]
    q = tmp_path / "spaced.skeleton"
    q.write_text("\n".join(spaced) + "\n")
    n2, bodies2 = parse_ntu_skeleton(q)
    assert n == n2 == 3 and [b.frames for b in bodies] == [b.frames for b in bodies2] == [[0, 1, 2]]
    np.testing.assert_array_equal(np.stack(bodies[0].xyz), np.stack(bodies2[0].xyz))


def test_coordinates_and_tracking_states_are_read_per_joint(tmp_path):
    p = tmp_path / "x.skeleton"
    p.write_text("\n".join(ntu_lines()) + "\n")
    _, (body,) = parse_ntu_skeleton(p)
    want_state = np.full(25, 2.0, np.float32)
    want_state[7] = 1
    for f in range(3):
        np.testing.assert_array_equal(body.state[f], want_state)
        np.testing.assert_array_equal(body.xyz[f][:, 2], np.float32(3.0 + 0.001 * f))
        np.testing.assert_array_equal(body.xyz[f][:, 0], np.float32([float(f"{0.01 * j:.4f}") for j in range(25)]))


def test_ntu_name_fields():
    assert parse_ntu_name("x/S017C003P020R002A120.skeleton") == {"setup": 17, "camera": 3, "subject": 20,
                                                                 "replication": 2, "action": 120}
    assert parse_ntu_name("S017C003P020.skeleton") is None


def test_spread_and_motion_are_float32_like_the_reference():
    # x-spread exactly 0.8 * y-spread is not object-like; the spreads are float32 differences, so 1 + 1e-12
    # (1.0 in float32) is still a tie, also for float64 input
    xyz = np.zeros((3, 25, 3))
    xyz[:, 1, 1] = 1.25
    xyz[0, 1, 0] = 1.0
    xyz[1, 1, 0] = 1.0 + 1e-12
    xyz[2, 1, 0] = 1.001
    assert spread_noisy_frames(xyz).tolist() == [False, False, True]
    assert spread_noisy_frames(xyz.astype(np.float32)).tolist() == [False, False, True]
    # per frame: a body that moves up has small y spreads in every frame, not the range over all frames
    up = np.zeros((2, 25, 3))
    up[:, :, 0] = np.linspace(0, 1, 25)
    up[0, :, 1] = np.linspace(0, 1, 25)
    up[1, :, 1] = np.linspace(5, 6, 25)
    assert spread_noisy_frames(up).tolist() == [True, True]
    x = np.random.default_rng(0).normal(3.0, 1e-3, (40, 25, 3))
    assert pooled_variance(x) == pooled_variance(x.astype(np.float32))
    assert pooled_variance(x) == float(np.sum(np.var(x.astype(np.float32).reshape(-1, 3), axis=0)))
    assert pooled_variance(x) != float(np.sum(np.var(x.reshape(-1, 3), axis=0)))


def body(bid: str, frames, scale: float = 1.0, wide=()) -> RawBody:
    """An upright body (x spread 0.4 scale, y spread 1.7 scale) in ``frames``; table-like in ``wide``."""
    out = RawBody(bid, list(frames))
    for f in out.frames:
        xyz = np.zeros((25, 3), np.float32)
        if f in wide:
            xyz[:, 0], xyz[:, 1] = np.linspace(-0.8, 0.8, 25) + 3.0, np.linspace(-0.1, 0.1, 25)
        else:
            xyz[:, 0], xyz[:, 1] = scale * np.linspace(-0.2, 0.2, 25), scale * np.linspace(-0.9, 0.8, 25)
        xyz[:, 2] = 3.0 + 0.01 * f
        out.xyz.append(xyz)
        out.state.append(np.full(25, 2, np.float32))
    return out


def test_actors_on_given_spans():
    bodies = [RawBody(k) for k in "ABCD"]
    # two shared frames overlap (B goes to actor 2), one shared frame does not (C joins actor 1)
    log: list[str] = []
    assert assign_actors(bodies[:3], [(0, 10), (9, 20), (10, 30)], log) == [[0, 2], [1]]
    assert log == ["merge body C into actor 1: frames 10-30, actor 1 spans 0-10 (one shared frame: this body's "
                   "data wins)"]
    # actor 2's range starts at frame 0 whatever its first body's start: D (0-1) overlaps it and is dropped
    log = []
    assert assign_actors(bodies, [(0, 5), (3, 6), (7, 9), (0, 1)], log) == [[0, 2], [1]]
    assert log == ["merge body C into actor 1: frames 7-9, actor 1 spans 0-5",
                   "drop-extra body D: frames 0-1 overlap actor 1 (0-9) and actor 2 (0-6)"]
    log = []
    assert assign_actors(bodies[:3], [(2, 5), (3, 6), (0, 4)], log) == [[0], [1]]
    assert log == ["drop-extra body C: frames 0-4 overlap actor 1 (2-5) and actor 2 (0-6)"]
    # one shared frame with actor 2
    log = []
    assert assign_actors(bodies[:3], [(0, 10), (0, 4), (4, 9)], log) == [[0], [1, 2]]
    assert log == ["merge body C into actor 2: frames 4-9, actor 2 spans 0-4 (one shared frame: this body's data "
                   "wins)"]


def test_denoising_log_names_each_decision():
    # keep-short, with the ids and frame counts
    kept, log = denoise_bodies([body("A", range(5)), body("B", range(3))])
    assert log == ["keep-short: every body is tracked in <= 11 frames (A (5), B (3)); none dropped (the reference "
                   "scripts fail on such a file with an IndexError)", "rank bodies by pooled variance: "
                   + ", ".join(f"{b.body_id} {pooled_variance(np.stack(b.xyz)):.6f}" for b in kept)]
    # one body left after the length rule: no ranking line
    _, log = denoise_bodies([body("A", range(20)), body("B", range(5))])
    assert log == ["drop-short body B: tracked in 5 <= 11 frames"]
    # one body left after the length rule: no spread rule either, even for an object-like body
    _, log = denoise_bodies([body("A", range(20), wide=range(20)), body("B", range(5))])
    assert log == ["drop-short body B: tracked in 5 <= 11 frames"]
    # the last object-like body is kept and said so
    _, log = denoise_bodies([body("A", range(20), wide=range(20)), body("B", range(20), wide=range(20))])
    assert log == ["drop-object body A: 20 of 20 frames (1.000 >= 0.69754) have x-spread > 0.8 * y-spread",
                   "keep-object body B: 1.000 of its frames are object-like, but it is the only body left"]
    # a body wide in some frames: its motion is lowered to the pooled variance of its clean frames
    a, b = body("A", range(20), scale=1.4, wide=range(5)), body("B", range(20))
    old = pooled_variance(np.stack(a.xyz))
    clean = pooled_variance(np.stack(a.xyz[5:]))
    _, log = denoise_bodies([a, b])
    assert clean < old and log[0] == f"clean-motion body A: motion {old:.6f} -> {clean:.6f} over its 15 clean frames"


def test_sequence_log_frames_and_default_mode():
    # A: frames 0-14 and 16-29 (a one-frame gap); B: frames 0-29 with nothing in raw frames 30-41
    a, b = body("A", [*range(15), *range(16, 30)], scale=1.3), body("B", range(30))
    joints, log, ids = denoise_sequence(42, [a, b])  # the default: the reference's frames
    assert ids == [["A"], ["B"]] and joints.shape[1] == 30
    assert log[1:] == ["drop-empty-frames: 12 raw frame(s) with no body (30, 31, 32, 33, 34, 35, 36, 37, 38, 39, ...)",
                       "gap-shift body A: tracked in 29 frames over 0-29 with 1 untracked; placed at 0-28 (frames "
                       "after a gap move earlier, as in the reference)"]
    assert log[0].startswith("rank bodies by pooled variance: A ")
    # the frames after the gap moved one earlier: raw frame 16 sits at 15
    np.testing.assert_array_equal(joints[0, 15], a.xyz[15])
    _, log, _ = denoise_sequence(40, [a, b], "keep-gaps")
    assert "keep-gaps body A: 1 untracked frame(s) between its frames 0-29 are NaN" in log
    _, log, _ = denoise_sequence(40, [body("A", range(30))])
    assert log == ["drop-empty-frames: 10 raw frame(s) with no body (30, 31, 32, 33, 34, 35, 36, 37, 38, 39)"]
    _, log, _ = denoise_sequence(41, [body("A", range(30))])
    assert log == ["drop-empty-frames: 11 raw frame(s) with no body (30, 31, 32, 33, 34, 35, 36, 37, 38, 39, ...)"]
    with pytest.raises(ValueError) as e:
        denoise_sequence(30, [b], "fast")
    assert str(e.value) == "unknown NTU denoising 'fast'; choose one of reference, keep-gaps"


def test_all_zero_frames_are_dropped_only_with_two_bodies():
    a, b = body("A", range(20), scale=1.3), body("B", range(20))
    a.xyz[7] = np.zeros((25, 3), np.float32)
    b.xyz[7] = np.zeros((25, 3), np.float32)
    joints, log, _ = denoise_sequence(20, [a, b])
    assert joints.shape[1] == 19 and log[-1] == "drop-absent-frames: 1 frame(s) where no kept actor is present"
    np.testing.assert_array_equal(joints[0, 7], a.xyz[8])
    joints, log, _ = denoise_sequence(20, [a])  # one body: kept as it is
    assert joints.shape[1] == 20 and log == []
    np.testing.assert_array_equal(joints[0, 7], 0)


def test_keep_gaps_trims_frames_without_actors_at_both_ends():
    joints, _, _ = denoise_sequence(30, [body("A", range(5, 25), scale=1.3), body("B", range(5, 25))], "keep-gaps")
    assert joints.shape[1] == 20
    np.testing.assert_array_equal(joints[0, -1, :, 2], np.float32(3.24))

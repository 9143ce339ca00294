import textwrap

import pytest

from s2i.cli import main
from s2i.formats import PART_NAMES, FormatSpecError, get_format, list_formats, load_format_file

MINI = """
name: mini
dims: 3
joints: [pelvis, chest, head, l_sh, l_hand, r_sh, r_hand, l_hip, l_foot, r_hip, r_foot]
parents: {pelvis: null, chest: pelvis, head: chest, l_sh: chest, l_hand: l_sh, r_sh: chest,
          r_hand: r_sh, l_hip: pelvis, l_foot: l_hip, r_hip: pelvis, r_foot: r_hip}
center: pelvis
hips: [l_hip, r_hip]
shoulders: [l_sh, r_sh]
left_right: [[l_sh, r_sh], [l_hand, r_hand], [l_hip, r_hip], [l_foot, r_foot]]
parts:
  torso: [pelvis, chest, head]
  left_arm: [l_sh, l_hand]
  right_arm: [r_sh, r_hand]
  left_leg: [l_hip, l_foot]
  right_leg: [r_hip, r_foot]
"""


def write(tmp_path, text, name="f.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_at_least_ten_builtin_formats():
    names = {s.name for s in list_formats()}
    assert len(names) >= 10
    assert {"ntu25", "kinect_v1", "coco17", "openpose18", "openpose25", "h36m17", "smpl24",
            "mediapipe33", "cmu31", "utd_mhad", "msr_action3d"} <= names


def test_aliases_and_indices():
    spec = get_format("NTU120")
    assert spec.name == "ntu25"
    assert spec.index("Head") == 3
    assert spec.parent_indices[0] == 0 and spec.parent_indices[1] == 0
    assert [list(p) for p in spec.part_indices][1] == [4, 5, 6, 7, 21, 22]
    flip = spec.flip_indices
    assert flip[4] == 8 and flip[8] == 4 and flip[0] == 0


def test_user_yaml_by_path(tmp_path):
    p = write(tmp_path, MINI)
    spec = get_format(str(p))
    assert spec.num_joints == 11 and spec.parts["left_arm"] == ("l_sh", "l_hand")
    assert spec.source == str(p)
    # round trip through to_dict keeps everything
    import yaml
    again = write(tmp_path, yaml.safe_dump(spec.to_dict()), "again.yaml")
    assert load_format_file(again).joints == spec.joints


@pytest.mark.parametrize("change, msg", [
    (("l_hand: l_sh", "l_hand: r_hand"), None),  # valid re-parenting, no error
    (("chest: pelvis", "chest: head"), r"cycle: chest -> head -> chest|cycle: head -> chest -> head"),
    (("r_hand: r_sh", "r_hand: wrist"), r"joint 'r_hand' has unknown parent 'wrist'"),
    (("left_arm: [l_sh, l_hand]", "left_arm: [l_sh, l_hand, head]"),
     r"joint 'head' is in two parts \('torso' and 'left_arm'\)"),
    (("right_leg: [r_hip, r_foot]", "right_leg: [r_hip]"), r"\['r_foot'\] are in no part"),
    (("center: pelvis", "center: belly"), r"centre joint 'belly'"),
    (("  torso:", "  trunk:"), r"missing \['torso'\]; unknown \['trunk'\]"),
    (("dims: 3", "dims: 4"), "dims must be 2 or 3"),
])
def test_invalid_specs_give_precise_errors(tmp_path, change, msg):
    p = write(tmp_path, MINI.replace(*change))
    if msg is None:
        load_format_file(p)
        return
    with pytest.raises(FormatSpecError, match=msg) as e:
        load_format_file(p)
    assert str(p) in str(e.value)


def test_yaml_syntax_error_names_line(tmp_path):
    p = write(tmp_path, "name: x\njoints: [a, b\n")
    with pytest.raises(FormatSpecError, match=r"line \d+"):
        load_format_file(p)


def test_unknown_format_lists_known():
    with pytest.raises(FormatSpecError, match="known formats: .*ntu25"):
        get_format("nope")


def test_cli_formats_list_and_show(capsys, tmp_path):
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    for name in ("ntu25", "coco17", "smpl24", "cmu31"):
        assert name in out
    assert main(["formats", "show", "ntu25"]) == 0
    out = capsys.readouterr().out
    assert "SpineBase" in out and "ShoulderLeft > ElbowLeft > WristLeft > HandLeft > HandTipLeft > ThumbLeft" in out
    assert "HandTipLeft->HandLeft" in out
    p = write(tmp_path, MINI)
    assert main(["formats", "show", str(p)]) == 0
    assert "l_sh > l_hand" in capsys.readouterr().out
    assert main(["formats", "show", "nope"]) == 2


def test_part_names_fixed_order():
    assert PART_NAMES == ("torso", "left_arm", "right_arm", "left_leg", "right_leg")


def test_docs_formats_page_is_current(capsys):
    from pathlib import Path

    assert main(["formats", "--markdown"]) == 0
    page = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
    assert page.read_text() == capsys.readouterr().out, "regenerate: s2i formats --markdown > docs/formats.md"

"""FormatSpec (formats/spec.py) by value: what to_dict / to_yaml write, and the exact error of each malformed
field (issue 18, mutation testing: the survivors of the ``formats`` group). Built on small dicts, no files
except where the file itself is the point."""

from __future__ import annotations

import re

import pytest
import yaml

from s2i.formats import FormatSpec, FormatSpecError, get_format, load_format_file


def mini() -> dict:
    """A valid 11-joint spec as parsed YAML (the fields a user's file has)."""
    return {
        "name": "mini",
        "joints": ["pelvis", "chest", "head", "l_sh", "l_hand", "r_sh", "r_hand", "l_hip", "l_foot", "r_hip",
                   "r_foot"],
        "parents": {"pelvis": None, "chest": "pelvis", "head": "chest", "l_sh": "chest", "l_hand": "l_sh",
                    "r_sh": "chest", "r_hand": "r_sh", "l_hip": "pelvis", "l_foot": "l_hip", "r_hip": "pelvis",
                    "r_foot": "r_hip"},
        "center": "pelvis",
        "hips": ["l_hip", "r_hip"],
        "shoulders": ["l_sh", "r_sh"],
        "left_right": [["l_sh", "r_sh"], ["l_hand", "r_hand"], ["l_hip", "r_hip"], ["l_foot", "r_foot"]],
        "parts": {"torso": ["pelvis", "chest", "head"], "left_arm": ["l_sh", "l_hand"],
                  "right_arm": ["r_sh", "r_hand"], "left_leg": ["l_hip", "l_foot"], "right_leg": ["r_hip", "r_foot"]},
    }


def test_to_dict_writes_a_single_file_name_as_a_string_and_keeps_extra():
    d = mini()
    d["source_names"] = {"pelvis": ["Hips", "hip"], "head": "Head"}
    d["extra"] = {"fps": 30}
    spec = FormatSpec.from_dict(d, source="x.yaml")
    out = spec.to_dict()
    assert out["source_names"] == {"pelvis": ["Hips", "hip"], "head": "Head"}
    assert out["extra"] == {"fps": 30}
    assert FormatSpec.from_dict(yaml.safe_load(spec.to_yaml())).extra == {"fps": 30}
    assert "extra" not in FormatSpec.from_dict(mini()).to_dict()


def test_left_right_and_flip_come_from_the_dict():
    spec = FormatSpec.from_dict(mini())
    assert spec.left_right == (("l_sh", "r_sh"), ("l_hand", "r_hand"), ("l_hip", "r_hip"), ("l_foot", "r_foot"))
    assert spec.flip_indices.tolist() == [0, 1, 2, 5, 6, 3, 4, 9, 10, 7, 8]


def test_to_yaml_keeps_the_field_order_and_writes_unicode_as_is():
    d = mini()
    d["description"] = "Bewegungsdaten, Gelenke nach Größe"
    text = FormatSpec.from_dict(d).to_yaml()
    keys = [line.split(":")[0] for line in text.splitlines() if re.match(r"[a-z_]+:", line)]
    assert keys == ["name", "description", "dims", "y_down", "units", "aliases", "joints", "parents", "center",
                    "left_right", "parts", "hips", "shoulders"]
    assert "Größe" in text


def _without(key):
    def f(d):
        del d[key]
    return f


def _set(key, value):
    def f(d):
        d[key] = value
    return f


def _part(name, value):
    def f(d):
        d["parts"][name] = value
    return f


def _parent(joint, value):
    def f(d):
        d["parents"][joint] = value
    return f


PARTS = "['torso', 'left_arm', 'right_arm', 'left_leg', 'right_leg']"
KNOWN = ("['aliases', 'center', 'description', 'dims', 'extra', 'hips', 'joints', 'left_right', 'name', 'parents', "
         "'parts', 'shoulders', 'source_names', 'units', 'y_down']")


@pytest.mark.parametrize("change, message", [
    (_set("joints", "pelvis, chest"), "x.yaml: 'joints' must be a list of joint names"),
    (_set("joints", ["pelvis", 3]), "x.yaml: 'joints' must be a list of joint names"),
    (_set("parts", ["torso"]), "x.yaml: 'parts' must map part names to joint lists"),
    (_without("parts"), "x.yaml: missing required field 'parts'"),
    (_set("colour", "red"), f"x.yaml: unknown field(s) ['colour']; expected some of {KNOWN}"),
    (lambda d: d["parents"].pop("head"), "x.yaml: 'parents' has no entry for joint(s) ['head']"),
    (_parent("tail", "pelvis"), "x.yaml: 'parents' names unknown joint(s) ['tail']"),
    (_set("parents", [None, "pelvis"]), "x.yaml: 'parents' has 2 entries for 11 joints"),
    (_set("parents", "pelvis"), "x.yaml: 'parents' must be a mapping joint -> parent (or a list)"),
    (_parent("chest", "chest"), "x.yaml: format 'mini': joint 'chest' is its own parent (use null for the root)"),
    (lambda d: d.update(joints=[], parents={}), "x.yaml: format 'mini': no joints"),
    (lambda d: d["joints"].append("head"), "x.yaml: format 'mini': joint 'head' is listed twice in 'joints'"),
    (_set("center", []), "x.yaml: format 'mini': 'center' must name at least one joint"),
    (_set("hips", ["l_hip"]), "x.yaml: 'hips' must be a [left, right] pair, got ['l_hip']"),
    (_set("shoulders", ["l_sh", "r_shoulder"]),
     "x.yaml: format 'mini': field 'shoulders': joint 'r_shoulder' is not in 'joints'"),
    (lambda d: d["left_right"].append(["l_eye", "r_eye", "c_eye"]),
     "x.yaml: left_right[4] must be a [left, right] pair, got ['l_eye', 'r_eye', 'c_eye']"),
    (lambda d: d["left_right"].append(["l_eye", "r_eye"]),
     "x.yaml: format 'mini': left_right pair ('l_eye', 'r_eye') names unknown joint 'l_eye'"),
    (_set("source_names", ["Hips"]), "x.yaml: 'source_names' must map joint names to the name(s) in the files"),
    (_set("source_names", {"head": ""}), "x.yaml: source_names['head'] must be a name or a list of names, got ''"),
    (_part("left_leg", []), "x.yaml: format 'mini': part 'left_leg' has no joints"),
    (_part("left_leg", ["l_hip", "l_foot", "tail"]),
     "x.yaml: format 'mini': part 'left_leg' names unknown joint 'tail'"),
    (_part("right_leg", ["r_hip"]),
     "x.yaml: format 'mini': joint(s) ['r_foot'] are in no part; every joint must be in exactly one (put extra "
     "detail at the distal end of the nearest part)"),
    (lambda d: d["parts"].pop("torso"), f"x.yaml: format 'mini': 'parts' must have exactly {PARTS}; missing ['torso']"),
    (lambda d: d["parts"].update(tail=["head"]),
     f"x.yaml: format 'mini': 'parts' must have exactly {PARTS}; unknown ['tail']"),
])
def test_malformed_fields_are_refused_with_their_exact_message(change, message):
    d = mini()
    change(d)
    with pytest.raises(FormatSpecError) as e:
        FormatSpec.from_dict(d, source="x.yaml")
    assert str(e.value) == message


def test_a_spec_that_is_not_a_mapping_is_refused():
    with pytest.raises(FormatSpecError) as e:
        FormatSpec.from_dict(["name", "mini"], source="x.yaml")
    assert str(e.value) == "x.yaml: a format spec must be a mapping, got list"


def test_parents_and_joints_of_different_lengths_are_refused():
    with pytest.raises(FormatSpecError) as e:
        FormatSpec(name="m", joints=("a", "b"), parents=(None,), center=("a",), parts={})
    assert str(e.value) == "<built-in>: format 'm': 1 parents for 2 joints"


def test_an_unknown_joint_name_names_the_format():
    with pytest.raises(FormatSpecError) as e:
        FormatSpec.from_dict(mini()).index("tail")
    assert str(e.value) == "format 'mini' has no joint 'tail'"


def test_from_dict_reads_every_optional_field():
    d = mini()
    d["parents"] = [d["parents"][j] for j in d["joints"]]  # the list form
    d.update(dims=2, y_down=True, description="  Two-dimensional mini.\n", units="px", aliases=["m2", "Mini2"],
             source_names={"head": "Kopf"}, extra={"fps": 25})
    d["hips"] = ["r_hip", "l_hip"]  # (left, right) as given, even when odd
    spec = FormatSpec.from_dict(d, source="x.yaml")
    assert spec.parents == (None, "pelvis", "chest", "chest", "l_sh", "chest", "r_sh", "pelvis", "l_hip", "pelvis",
                            "r_hip")
    assert (spec.dims, spec.y_down, spec.description, spec.units) == (2, True, "Two-dimensional mini.", "px")
    assert spec.aliases == ("m2", "Mini2") and spec.source == "x.yaml"
    assert spec.hips == ("r_hip", "l_hip") and spec.shoulders == ("l_sh", "r_sh")
    assert spec.source_names == {"head": ("Kopf",)} and spec.extra == {"fps": 25}


def test_from_dict_defaults_of_the_optional_fields():
    d = mini()
    for key in ("hips", "shoulders", "left_right"):
        del d[key]
    spec = FormatSpec.from_dict(d)
    assert (spec.left_right, spec.hips, spec.shoulders, spec.dims, spec.y_down) == ((), None, None, 3, False)
    assert (spec.description, spec.units, spec.aliases, spec.source_names, spec.extra) == ("", "", (), {}, {})
    assert spec.source == "<dict>"


def test_a_dict_without_a_source_is_named_dict_in_errors():
    d = mini()
    del d["center"]
    with pytest.raises(FormatSpecError) as e:
        FormatSpec.from_dict(d)
    assert str(e.value) == "<dict>: missing required field 'center'"


def test_an_unreadable_file_says_so(tmp_path):
    with pytest.raises(FormatSpecError) as e:
        load_format_file(tmp_path / "none.yaml")
    assert str(e.value) == f"{tmp_path / 'none.yaml'}: cannot read format spec (No such file or directory)"


def test_yaml_errors_give_the_line_and_column_or_the_reader_message(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\njoints: [a, b\n")
    with pytest.raises(FormatSpecError) as e:
        load_format_file(p)
    assert str(e.value) == f"{p}: line 3, column 1 invalid YAML: expected ',' or ']', but got '<stream end>'"
    p.write_text("name: x\x01\n")  # a reader error: no line mark, no 'problem'
    with pytest.raises(FormatSpecError) as e:
        load_format_file(p)
    assert str(e.value) == (f"{p}: invalid YAML: unacceptable character #x0001: special characters are not allowed\n"
                            '  in "<unicode string>", position 7')


def test_a_utf8_file_loads_its_text_unchanged(tmp_path):
    d = get_format("kinect_v1").to_dict()
    d["name"], d["aliases"], d["description"] = "k_utf8", [], "Gelenke nach Größe, Ω"
    p = tmp_path / "k.yaml"
    p.write_bytes(yaml.safe_dump(d, allow_unicode=True).encode("utf-8"))
    assert load_format_file(p).description == "Gelenke nach Größe, Ω"

"""The format registry (formats/registry.py) by value: registered specs are found, paths are loaded by their
suffix, the unknown-format error lists the known names (issue 18, mutation testing)."""

from __future__ import annotations

import pytest
import yaml

from s2i.formats import FormatSpec, FormatSpecError, get_format, list_formats, register_format, registry

BUILTIN = ["cmu31", "coco17", "h36m17", "humanoid3d", "kinect_v1", "mediapipe33", "msr_action3d", "ntu25", "openpose18",
           "openpose25", "smpl24", "utd_mhad"]


def test_a_registered_format_is_found_by_name_and_listed():
    d = get_format("kinect_v1").to_dict()
    d["name"], d["aliases"] = "registered_k", []
    spec = FormatSpec.from_dict(d)
    register_format(spec)
    try:
        assert get_format("registered_k") is spec
        assert [s.name for s in list_formats()] == sorted([*BUILTIN, "registered_k"])
    finally:
        registry._user.pop("registered_k")


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_a_yaml_suffix_is_read_as_a_path_even_when_missing(tmp_path, suffix):
    with pytest.raises(FormatSpecError, match="cannot read format spec"):
        get_format(str(tmp_path / f"missing{suffix}"))


def test_an_existing_file_is_read_whatever_its_suffix(tmp_path):
    d = get_format("kinect_v1").to_dict()
    d["name"], d["aliases"] = "txt_k", []
    p = tmp_path / "spec.txt"
    p.write_text(yaml.safe_dump(d))
    try:
        assert get_format(str(p)).name == "txt_k"
    finally:
        registry._loaded.pop("txt_k", None)


def test_an_unknown_name_lists_the_known_formats():
    with pytest.raises(FormatSpecError) as e:
        get_format("nope")
    assert str(e.value) == (f"unknown skeleton format 'nope'; known formats: {', '.join(BUILTIN)} (or a path to a "
                            "YAML spec)")

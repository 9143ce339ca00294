"""Motion capture as found (issue 13 items 2-5): per-subject ASF skeletons, custom formats for AMC, Latin-1
comments, and --units; on toy files generated here and on the CMU sample copied into those layouts."""

import json

import numpy as np
import pytest
import yaml
from test_readers_mocap import TOY_ASF_YAML, TOY_BVH_YAML, random_amc, toy_asf, toy_bvh

from s2i.cli import main
from s2i.readers import ReaderError, read_sequence
from s2i.readers.asf_amc import find_asf, read_amc_file
from s2i.store import SkeletonStore

from helpers import data_path


def put(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def archive(root):
    """PREFIX_SUBJECT.asf next to PREFIX_SUBJECT_motion_NNN.amc, plus a decoy PREFIX.asf."""
    put(root / "Lab_S07.asf", toy_asf())
    put(root / "Lab_S08.asf", toy_asf().replace("length 16", "length 20"))
    put(root / "Lab.asf", toy_asf().replace("length 16", "length 99"))
    put(root / "Lab_S07_motion_001.amc", random_amc(6, seed=1))
    put(root / "Lab_S07_motion_002.amc", random_amc(5, seed=2))
    put(root / "Lab_S08_motion_001.amc", random_amc(4, seed=3))
    return root


def test_longest_prefix_then_single_asf_then_clear_error(tmp_path):
    root = archive(tmp_path / "arch")
    assert find_asf(root / "Lab_S07_motion_002.amc").name == "Lab_S07.asf"
    assert find_asf(root / "Lab_S08_motion_001.amc").name == "Lab_S08.asf"
    single = tmp_path / "single"
    put(single / "skeleton.asf", toy_asf())
    put(single / "take_1.amc", random_amc(3))
    assert find_asf(single / "take_1.amc").name == "skeleton.asf"
    two = tmp_path / "two"
    put(two / "a.asf", toy_asf())
    put(two / "b.asf", toy_asf())
    put(two / "take_1.amc", random_amc(3))
    with pytest.raises(ReaderError, match=r"take_1\.amc: cannot tell the ASF skeleton of this AMC file: 2 \.asf"
                                          r" files \(a\.asf, b\.asf\).*pass --asf FILE"):
        find_asf(two / "take_1.amc")
    assert find_asf(two / "take_1.amc", asf=two / "b.asf").name == "b.asf"
    assert find_asf(two / "take_1.amc", asf=single).name == "skeleton.asf"


def test_archive_prepares_with_custom_format_and_units(tmp_path):
    root = archive(tmp_path / "arch")
    fmt = put(tmp_path / "toyasf.yaml", TOY_ASF_YAML)
    out = tmp_path / "store"
    assert main(["prepare", "mocap", "--root", str(root), "--out", str(out), "--format", str(fmt), "--units",
                 "inch", "--workers", "1", "--quiet"]) == 0
    st = SkeletonStore(out)
    assert len(st) == 3 and st.format == "toyasf" and st.manifest["units"] == "m"
    by_name = {m["name"]: i for i, m in enumerate(st.meta)}
    m = st.meta[by_name["Lab_S08_motion_001"]]
    assert m["asf"].endswith("Lab_S08.asf") and m["units"] == "m"
    assert m["unit_factor"] == pytest.approx(0.0254 / 0.45)
    # positions: file units x (0.0254 / 0.45), read with the subject's own skeleton
    j = st.joints(by_name["Lab_S08_motion_001"])[0]
    raw = read_amc_file(root / "Lab_S08_motion_001.amc", format=str(fmt))
    np.testing.assert_allclose(j, raw.joints[0] * 0.0254 / 0.45, rtol=1e-5, atol=1e-6)


def test_amc_custom_format_maps_bones_by_name(tmp_path):
    """A reordered spec gives the same joints, reordered; a bone the file lacks is an error."""
    put(tmp_path / "toy.asf", toy_asf())
    amc = put(tmp_path / "toy_01.amc", random_amc(5))
    spec = yaml.safe_load(TOY_ASF_YAML)
    fmt = put(tmp_path / "toyasf.yaml", TOY_ASF_YAML)
    spec_r = dict(spec, name="toy_reversed", joints=spec["joints"][::-1])
    fmt_r = put(tmp_path / "rev.yaml", yaml.safe_dump(spec_r))
    a = read_sequence(amc, fmt=str(fmt))
    b = read_sequence(amc, fmt=str(fmt_r))
    assert b.format == "toy_reversed"
    np.testing.assert_allclose(b.joints[0], a.joints[0][:, ::-1], atol=1e-6)
    # source_names: a spec joint called differently from the ASF bone
    spec_s = dict(spec, name="toy_named", source_names={"head": "head"})
    spec_s["joints"] = [j if j != "lhand" else "left_hand" for j in spec["joints"]]
    spec_s["parents"] = {("left_hand" if k == "lhand" else k): v for k, v in spec["parents"].items()}
    spec_s["parts"] = dict(spec["parts"], left_arm=["larm", "left_hand"])
    spec_s["source_names"] = {"left_hand": "lhand"}
    c = read_sequence(amc, fmt=str(put(tmp_path / "named.yaml", yaml.safe_dump(spec_s))))
    np.testing.assert_allclose(c.joints, a.joints, atol=1e-6)
    spec_bad = dict(spec_s, name="toy_bad", source_names={"left_hand": "lfinger"})
    with pytest.raises(ReaderError, match=r"toy_01\.amc: skeleton .*toy\.asf lacks bone\(s\) for joint\(s\)"
                                          r" left_hand \(as lfinger\) of format 'toy_bad'"):
        read_sequence(amc, fmt=str(put(tmp_path / "bad.yaml", yaml.safe_dump(spec_bad))))


def test_latin1_comments_are_accepted_and_binary_is_not(tmp_path):
    asf = put(tmp_path / "toy.asf", "# Capturé à Montréal – séance 2\r\n" + toy_asf(), encoding="cp1252")
    amc = put(tmp_path / "toy_01.amc", "# Prise n° 1, éclairage\r\n" + random_amc(3), encoding="latin-1")
    fmt = put(tmp_path / "toyasf.yaml", TOY_ASF_YAML)
    assert read_amc_file(amc, format=str(fmt), asf=asf).num_frames == 3
    garbage = put(tmp_path / "junk_01.amc", "")
    garbage.write_bytes(b"\x00\x01\x02\xff" * 50)
    with pytest.raises(ReaderError, match=r"junk_01\.amc:1: not a valid text file \(NUL byte at offset 0"):
        read_amc_file(garbage, format=str(fmt), asf=asf)
    noise = put(tmp_path / "noise_01.amc", "")
    noise.write_bytes(bytes(range(1, 32)) * 20 + b"\xff")
    with pytest.raises(ReaderError, match=r"noise_01\.amc: not a valid text file \(\d+ control bytes"):
        read_amc_file(noise, format=str(fmt), asf=asf)


def test_bvh_latin1_joint_names_and_units(tmp_path):
    """A cp1252 joint name ('Tête') in the BVH, named in a UTF-8 spec; --units cm scales to metres."""
    bvh = put(tmp_path / "data" / "walk" / "take.bvh", toy_bvh(frames=4).replace("Head", "Tête"), encoding="cp1252")
    fmt = put(tmp_path / "toy7.yaml", TOY_BVH_YAML.replace("Head", "Tête"))
    seq = read_sequence(bvh, fmt=str(fmt))
    assert seq.format == "toy7" and seq.joints.shape == (1, 4, 7, 3)
    out = tmp_path / "store"
    assert main(["prepare", "mocap", "--root", str(tmp_path / "data"), "--out", str(out), "--format", str(fmt),
                 "--units", "cm", "--workers", "1", "--quiet"]) == 0
    st = SkeletonStore(out)
    np.testing.assert_allclose(st.joints(0), seq.joints * 0.01, rtol=1e-6)
    assert st.meta[0]["units"] == "m" and st.meta[0]["units_given"] == "cm" and st.class_names == ["walk"]


def cmu_slice(src, frames):
    """The first ``frames`` frames of a CMU AMC file (header kept)."""
    out, n = [], 0
    for line in src.read_text(encoding="latin-1").splitlines():
        if line.strip().isdigit():
            n += 1
            if n > frames:
                break
        out.append(line)
    return "\n".join(out) + "\n"


def test_cmu_archive_with_per_subject_names_and_units(tmp_path):
    asf_src = data_path("mocap_samples", "01.asf")
    amc_src = data_path("mocap_samples", "01_01.amc")
    root = tmp_path / "cmu"
    put(root / "CMU_subject01.asf", asf_src.read_text(encoding="latin-1"))
    put(root / "CMU_subject01_motion_001.amc", cmu_slice(amc_src, 40))
    put(root / "CMU_subject01_motion_002.amc", cmu_slice(amc_src, 20))
    out = tmp_path / "store"
    assert main(["prepare", "mocap", "--root", str(root), "--out", str(out), "--units", "inch", "--workers", "1",
                 "--quiet"]) == 0
    st = SkeletonStore(out)
    assert len(st) == 2 and st.format == "cmu31" and st.manifest["units"] == "m"
    ref = read_sequence(amc_src)  # the CMU pair as distributed (01.asf + 01_01.amc), file units
    np.testing.assert_allclose(st.joints(0)[0], ref.joints[0, :40] * 0.0254 / 0.45, rtol=1e-4, atol=1e-5)
    height = np.nanmax(st.joints(0)[0, 0, :, 1]) - np.nanmin(st.joints(0)[0, 0, :, 1])
    assert 1.2 < height < 2.2  # a person, in metres
    report = json.loads((out / "report.json").read_text())
    assert report["failed"] == []


def test_bad_units_are_refused_before_reading(tmp_path, capsys):
    root = archive(tmp_path / "arch")
    code = main(["prepare", "mocap", "--root", str(root), "--out", str(tmp_path / "s"), "--units", "furlong",
                 "--quiet"])
    assert code != 0
    assert "--units 'furlong': expected m, cm, mm, inch or a positive factor" in capsys.readouterr().err

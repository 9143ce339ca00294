"""NTU split code against the official counts, from the official list of available sample names."""

from pathlib import Path

import pytest

from s2i.readers.ntu import parse_ntu_name
from s2i.sources import PrepareOptions
from s2i.sources.ntu import NTU60, NTU120, ntu_splits, read_missing_list

from helpers import data_path


def metas_from_names(max_setup):
    names = data_path("ntu_metadata", "ntu120_available_samples.txt").read_text().split()
    out = []
    for n in names:
        info = parse_ntu_name(n)
        assert info is not None, n
        if info["setup"] <= max_setup:
            out.append(info)
    return out


@pytest.mark.parametrize("version, source, max_setup", [(60, NTU60, 17), (120, NTU120, 32)])
def test_split_counts_equal_official(version, source, max_setup):
    metas = metas_from_names(max_setup)
    assert len(metas) == source.official["sequences"]
    for splits in (ntu_splits(metas, version), source.make_splits(metas, PrepareOptions())):
        got = {s: {k: len(v) for k, v in parts.items()} for s, parts in splits.items()}
        assert got == source.official["splits"]


def test_missing_lists():
    m60 = read_missing_list(data_path("ntu_metadata", "NTU_RGBD_samples_with_missing_skeletons.txt"))
    m120 = read_missing_list(data_path("ntu_metadata", "NTU_RGBD120_samples_with_missing_skeletons.txt"))
    assert len(m60) == 302 and len(m120) == 535 and m60 <= m120
    available = set(data_path("ntu_metadata", "ntu120_available_samples.txt").read_text().split())
    assert not (available & m120)
    assert len(available) + len(m120) == 114480


@pytest.mark.parametrize("source, kept", [(NTU60, ["S017C001P001R001A001"]),
                                          (NTU120, ["S017C001P001R001A001", "S032C001P001R001A120"])])
def test_each_version_lists_its_setups(tmp_path, source, kept):
    for name in ("S017C001P001R001A001", "S032C001P001R001A120", "S033C001P001R001A001", "notntu"):
        (tmp_path / f"{name}.skeleton").write_text("")
    items, excluded = source.list_items(tmp_path, PrepareOptions())
    assert [Path(i).stem for i in items] == kept
    assert list(excluded) == ["(note)"] and "no missing-skeleton list found" in excluded["(note)"]

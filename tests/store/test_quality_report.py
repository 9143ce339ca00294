"""The Markdown data-quality page of ``s2i inspect``: every section, from a report dict with each field set,
and the page of a store whose statistics are missing."""

from s2i.store.quality import report_markdown

REPORT = {
    "dataset": "toy", "store": "/s/toy", "format": "kinect_v1", "dtype": "float32", "content_hash": "sha256:ab",
    "sequences": 5, "classes": 2, "class_names": {"0": "wave"},
    "splits": {"xsub": {"train": 3, "test": 2}},
    "per_class": {"xsub/train": {"0": 2, "1": 1}, "xsub/test": {"1": 2}},
    "prepare": {"files": 6, "failed": 1, "excluded": 2, "count_mismatches": ["xsub/train: 3, official 4"]},
    "counts": {"official": {"splits": {"xsub": {"train": 4}}}},
    "length": {"min": 10, "mean": 12.5}, "length_histogram": {"counts": [2, 3], "edges": [10, 12, 14]},
    "persons_per_sequence": {"1": 4, "2": 1}, "coordinate_min": [-1.0, -2.0], "coordinate_max": [1.0, 2.0],
    "missing_joint_fraction": [0.0, 0.25, 0.0], "zero_joint_fraction": [0.0, 0.0, 0.125],
    "denoising_decisions": {"spread": 3, "length": 1}, "denoising_sequences": {"spread": 2},
    "denoising_modes": {"ntu": 5},
}

FULL = """\
# Data-quality report: toy

- store: `/s/toy`
- format: kinect_v1 (float32)
- content hash: `sha256:ab`
- sequences: 5, classes: 2

- files read: 6, failed: 1, excluded by design: 2

**COUNT MISMATCHES against the official numbers:**
- xsub/train: 3, official 4

## Splits

| split | subset | sequences | official |
|---|---|---|---|
| xsub | train | 3 | 4 |
| xsub | test | 2 |  |

## Sequences per class

| class | name | xsub/train | xsub/test |
|---|---|---|---|
| 0 | wave | 2 | 0 |
| 1 |  | 1 | 2 |

## Lengths (frames)

min 10, mean 12.5

- 10–12: 2
- 12–14: 3

## Bodies per sequence

1: 4, 2: 1

## Coordinates

min [-1.0, -2.0], max [1.0, 2.0]

## Missing / all-zero joints (fraction of present person-frames)

| joint | missing | zero |
|---|---|---|
| knee | 0.2500 | 0.0000 |
| 2 | 0.0000 | 0.1250 |

## Denoising decisions

mode: ntu (5 sequences)

| rule | sequences | decisions |
|---|---|---|
| length |  | 1 |
| spread | 2 | 3 |
"""

MINIMAL = """\
# Data-quality report: toy

- store: `/s/toy`
- format: kinect_v1 (float32)
- content hash: `sha256:ab`
- sequences: 5, classes: 2

## Splits

| split | subset | sequences | official |
|---|---|---|---|
| xsub | train | 3 |  |
| xsub | test | 2 |  |

## Sequences per class

| class | name | xsub/train | xsub/test |
|---|---|---|---|
| 0 | wave | 2 | 0 |
| 1 |  | 1 | 2 |

## Lengths (frames)



## Bodies per sequence



## Coordinates

min None, max None

No missing or all-zero joints.

## Denoising decisions

none
"""


def test_every_section_of_the_page():
    assert report_markdown(REPORT, ["hip", "knee"]) == FULL


def test_a_report_without_statistics():
    keys = ("dataset", "store", "format", "dtype", "content_hash", "sequences", "classes", "class_names", "splits",
            "per_class")
    assert report_markdown({k: REPORT[k] for k in keys}) == MINIMAL

"""evaluation/knn.py pinned on values (issue 36, mutation round 2): the vote against a brute-force reference on
shapes where no two sizes coincide (train 7 x 3, test 4, 5 classes of which one unseen), in every chunking,
and the default k list."""

from __future__ import annotations

import math

import pytest
import torch

from s2i.evaluation.knn import knn_scores

G = torch.Generator().manual_seed(11)
TRAIN = torch.randn(7, 3, generator=G) * torch.tensor([[1.0], [2.0], [0.5], [3.0], [1.0], [0.2], [4.0]])
LABELS = torch.tensor([0, 2, 1, 2, 3, 0, 1])
TEST = torch.randn(4, 3, generator=G) * 5.0


def _reference(k: int, temperature: float, num_classes: int) -> torch.Tensor:
    """Loops in float64: the k training samples of highest cosine, each voting exp(cos / T) for its class."""
    out = torch.zeros(len(TEST), num_classes, dtype=torch.float64)
    for i, t in enumerate(TEST.double()):
        cos = [float(t @ a / (t.norm() * a.norm())) for a in TRAIN.double()]
        nearest = sorted(range(len(cos)), key=lambda j: -cos[j])[:k]
        for j in nearest:
            out[i, int(LABELS[j])] += math.exp(cos[j] / temperature)
    return out.float()


@pytest.mark.parametrize("chunk", [1, 3, 4, 1024])
def test_the_vote_equals_the_brute_force_reference_in_any_chunking(chunk):
    got = knn_scores(TRAIN, LABELS, TEST, ks=(2, 4, 6), num_classes=5, temperature=0.2, chunk=chunk)
    assert sorted(got) == [2, 4, 6]
    for k in (2, 4, 6):
        assert got[k].shape == (4, 5) and got[k].dtype == torch.float32
        torch.testing.assert_close(got[k], _reference(k, 0.2, 5), rtol=1e-5, atol=0)
    assert torch.equal(got[2][:, 4], torch.zeros(4))  # class 4 has no training sample


def test_defaults_are_k_1_10_20_the_class_count_from_the_labels_and_t_0_07():
    got = knn_scores(TRAIN, LABELS, TEST)
    assert list(got) == [1, 10, 20]
    for k in (1, 10, 20):  # 10 and 20 beyond the 7 training samples: all of them vote
        assert got[k].shape == (4, 4)
        torch.testing.assert_close(got[k], _reference(min(k, 7), 0.07, 4), rtol=1e-4, atol=0)


def test_double_and_half_inputs_vote_like_float():
    ref = knn_scores(TRAIN, LABELS, TEST, ks=(3,), temperature=0.5)[3]
    torch.testing.assert_close(knn_scores(TRAIN.double(), LABELS, TEST.double(), ks=(3,), temperature=0.5)[3], ref)
    torch.testing.assert_close(knn_scores(TRAIN.half(), LABELS, TEST.half(), ks=(3,), temperature=0.5)[3], ref,
                               rtol=2e-2, atol=0)

"""Cosine k-nearest-neighbour classification on frozen features (several k at once)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["knn_scores"]


def knn_scores(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
               ks: tuple[int, ...] = (1, 10, 20), num_classes: int | None = None, temperature: float = 0.07,
               chunk: int = 1024) -> dict[int, torch.Tensor]:
    """For each k: class scores (N_test, K) = sum over the k most cosine-similar training samples of
    exp(similarity / temperature) per class (the weighted vote of InstDisc/DINO kNN evaluation).

    k = 1 is plain nearest neighbour. Ties of equal similarity resolve to the lower training index.
    """
    if train_feats.shape[0] != train_labels.shape[0]:
        raise ValueError(f"{train_feats.shape[0]} training features but {train_labels.shape[0]} labels")
    num_classes = num_classes or int(train_labels.max()) + 1
    a = F.normalize(train_feats.float(), dim=1)
    kmax = min(max(ks), a.shape[0])
    out = {k: torch.zeros(test_feats.shape[0], num_classes) for k in ks}
    for s in range(0, test_feats.shape[0], chunk):
        b = F.normalize(test_feats[s:s + chunk].float(), dim=1)
        sim = b @ a.T
        top_sim, top_idx = sim.topk(kmax, dim=1)
        top_lab = train_labels[top_idx]
        weight = (top_sim / temperature).exp()
        for k in ks:
            kk = min(k, kmax)
            votes = torch.zeros(b.shape[0], num_classes)
            votes.scatter_add_(1, top_lab[:, :kk], weight[:, :kk])
            out[k][s:s + chunk] = votes
    return out

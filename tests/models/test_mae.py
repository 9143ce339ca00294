"""MAE on S2I images: masking (random and band x time blocks), the norm-pix loss, and that it learns."""

from __future__ import annotations

import pytest
import torch

from s2i.encode import band_sizes
from s2i.models import MAE, block_ids, create_backbone, patchify, random_masking


def _mae(depth: int = 2, **kw) -> MAE:
    torch.manual_seed(0)
    bb, _ = create_backbone("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=depth)
    return MAE(bb, decoder_dim=64, decoder_depth=1, decoder_heads=4, **kw)


def test_random_masking_keeps_the_lowest_noise_and_restores_order():
    noise = torch.tensor([[0.5, 0.1, 0.9, 0.3]])
    ids_keep, mask, ids_restore = random_masking(noise, 2)
    assert ids_keep.tolist() == [[1, 3]] and mask.tolist() == [[1, 0, 1, 0]]
    assert torch.equal(torch.argsort(noise, 1).gather(1, ids_restore), torch.arange(4)[None])


def test_patchify_matches_the_patch_grid():
    img = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    p = patchify(img, 2)
    assert p.shape == (2, 6, 12)
    assert torch.equal(p[1, 4].reshape(2, 2, 3).permute(2, 0, 1), img[1, :, 2:4, 2:4])  # row 1, col 1


def test_block_ids_follow_body_part_bands_and_time_windows():
    # 112 rows, 2 persons: 56 rows each, 5 bands of 12,11,11,11,11 rows; patch 8 -> 14 patch rows
    ids = block_ids((14, 6), 8, persons=2, time_window=3).view(14, 6)
    bands = [b for person in band_sizes(112, 2) for b in band_sizes(person, 5)]
    starts = torch.tensor([0] + bands).cumsum(0)[:-1]
    for r in range(14):
        centre = r * 8 + 4
        band = int((starts <= centre).sum()) - 1
        assert ids[r].tolist() == [band * 2] * 3 + [band * 2 + 1] * 3


@pytest.mark.parametrize("masking", ["random", "blocks"])
def test_mask_ratio_and_determinism(masking):
    m = _mae(mask_ratio=0.75, masking=masking, persons=2, time_window=2)
    x = torch.rand(4, 3, 32, 32)
    l1, _, mask1 = m(x, torch.Generator().manual_seed(3))
    l2, _, mask2 = m(x, torch.Generator().manual_seed(3))
    assert torch.equal(mask1, mask2) and l1.item() == l2.item()  # a function of the generator's seed
    assert mask1.sum(1).tolist() == [12.0] * 4  # 16 patches, 4 visible
    _, _, mask3 = m(x, torch.Generator().manual_seed(4))
    assert not torch.equal(mask1, mask3)


def test_block_masking_masks_whole_blocks():
    m = _mae(mask_ratio=0.5, masking="blocks", persons=2, time_window=2)
    noise = m.mask_noise(16, torch.Generator().manual_seed(0))
    keep = 8
    _, mask, _ = random_masking(noise, keep)
    blocks = m.blocks
    for row in mask:  # at most one block is partly masked (the one at the ratio's boundary)
        partial = [b for b in blocks.unique() if 0 < row[blocks == b].sum() < (blocks == b).sum()]
        assert len(partial) <= 1


def test_loss_is_norm_pix_mse_on_masked_patches():
    m = _mae(mask_ratio=0.75)
    x = torch.rand(2, 3, 32, 32)
    loss, pred, mask = m(x, torch.Generator().manual_seed(0))
    target = patchify(m.normalize(x), 8)
    target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6) ** 0.5
    expected = (((pred - target) ** 2).mean(-1) * mask).sum() / mask.sum()
    torch.testing.assert_close(loss, expected)
    # pixels of visible patches do not enter the loss
    pred2 = pred.detach().clone()
    pred2[mask == 0] += 10.0
    torch.testing.assert_close(m.loss(m.normalize(x), pred2, mask), loss.detach())


def test_images_are_normalised_with_the_backbone_mean_std():
    m = _mae()
    cfg = m.backbone.pretrained_cfg
    x = torch.full((1, 3, 32, 32), 0.25)
    expected = (0.25 - torch.tensor(cfg["mean"])) / torch.tensor(cfg["std"])
    torch.testing.assert_close(m.normalize(x)[0, :, 0, 0], expected)


def test_mae_learns_a_small_image_set():
    m = _mae(mask_ratio=0.5, depth=1)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 3, 1, 32).expand(8, 3, 32, 32).contiguous()  # row-constant images: learnable
    opt = torch.optim.AdamW(m.parameters(), lr=2e-3)
    losses = []
    for _ in range(15):
        loss, _, _ = m(x, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3

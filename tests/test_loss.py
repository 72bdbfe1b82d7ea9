"""The fused multi-level loss against torch's per-level cross-entropy."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mgclassifier._network._loss import MultiLevelLoss

LEVEL_SIZES = (3, 5, 9)
PARENTS = [[0, 0, 1, 2, 2], [0, 0, 1, 2, 2, 3, 3, 4, 4]]


def tree_codes(rng, n_samples):
    """Class codes of random root-to-leaf paths, one column per level."""
    fine = rng.randint(LEVEL_SIZES[-1], size=n_samples)
    middle = np.asarray(PARENTS[1])[fine]
    return np.column_stack([np.asarray(PARENTS[0])[middle], middle, fine])


def reference_per_level(logits, codes, smoothing, sample_weight, class_weights):
    """Each level with F.cross_entropy, weighted mean over labelled samples."""
    per_level = []
    for level, block in enumerate(logits.split(LEVEL_SIZES, dim=1)):
        target = codes[:, level]
        weight = (target >= 0).float()
        if sample_weight is not None:
            weight = weight * sample_weight
        if class_weights is not None:
            weight = weight * torch.as_tensor(class_weights[level])[target.clamp_min(0)]
        entropy = F.cross_entropy(
            block, target.clamp_min(0), reduction="none", label_smoothing=smoothing
        )
        per_level.append((entropy * weight).sum() / weight.sum())
    return torch.stack(per_level)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_loss_equals_per_level_cross_entropy(smoothing, missing, weighted):
    rng = np.random.RandomState(0)
    codes = tree_codes(rng, 64)
    if missing:
        codes[::3, 2] = -1
        codes[::7, 1:] = -1
    codes = torch.as_tensor(codes)
    logits = torch.as_tensor(rng.normal(scale=3, size=(64, sum(LEVEL_SIZES)))).float()
    sample_weight = torch.rand(64) if weighted else None
    class_weights = (
        [rng.uniform(0.5, 2, size=k).astype(np.float32) for k in LEVEL_SIZES]
        if weighted
        else None
    )
    loss = MultiLevelLoss(
        LEVEL_SIZES,
        PARENTS,
        level_weights=[0.25, 0.5, 1.0],
        class_weights=class_weights,
        label_smoothing=smoothing,
        has_missing=missing,
    )
    total, per_level = loss(logits, codes, sample_weight, training=True)
    expected = reference_per_level(
        logits, codes, smoothing, sample_weight, class_weights
    )
    torch.testing.assert_close(per_level, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(total, torch.tensor([0.25, 0.5, 1.0]).dot(expected))
    # Validation never smooths.
    _, valid = loss(logits, codes, sample_weight, training=False)
    plain = reference_per_level(logits, codes, 0.0, sample_weight, class_weights)
    torch.testing.assert_close(valid, plain, rtol=1e-5, atol=1e-6)


def test_gradient_matches_per_level_cross_entropy():
    rng = np.random.RandomState(1)
    codes = torch.as_tensor(tree_codes(rng, 32))
    logits = torch.randn(32, sum(LEVEL_SIZES), requires_grad=True)
    loss = MultiLevelLoss(
        LEVEL_SIZES, PARENTS, [1.0, 1.0, 1.0], label_smoothing=0.1, has_missing=False
    )
    loss(logits, codes)[0].backward()
    fused = logits.grad.clone()
    logits.grad = None
    reference_per_level(logits, codes, 0.1, None, None).sum().backward()
    torch.testing.assert_close(fused, logits.grad, rtol=1e-5, atol=1e-7)


def test_bfloat16_logits_are_summed_in_float32():
    codes = torch.tensor([[0, 1, 2]] * 8)
    logits = torch.randn(8, sum(LEVEL_SIZES))
    loss = MultiLevelLoss(LEVEL_SIZES, PARENTS, [1.0, 1.0, 1.0], has_missing=False)
    total, per_level = loss(logits.bfloat16(), codes)
    assert total.dtype == per_level.dtype == torch.float32
    torch.testing.assert_close(
        per_level, loss(logits.bfloat16().float(), codes)[1], rtol=0, atol=0
    )

"""MultiHeadMLP: the torch module, with its products on another kernel."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from mgclassifier._data._datasets import sparse_rows_to_torch
from mgclassifier._network._module import (
    ACTIVATIONS,
    POOL_CALLS,
    FastDropout,
    MultiHeadMLP,
    affine_parts,
)


def make_module(activation="relu", hidden=(7, 4)):
    torch.manual_seed(0)
    return MultiHeadMLP(
        5,
        [2, 3],
        hidden_layer_sizes=hidden,
        activation=activation,
        dropout=0.3,
        input_mean=torch.randn(5),
        input_scale=torch.rand(5) + 0.5,
    ).eval()


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("hidden", [(), (7,), (7, 4)])
def test_a_linear_kernel_gives_the_layers_products(activation, hidden):
    # Prediction passes a kernel for the linear layers' products (numpy's
    # BLAS on the CPU); the layers' own product is the reference.
    module = make_module(activation, hidden)
    X = torch.from_numpy(np.random.RandomState(0).normal(size=(10, 5)))
    X = X.float()
    calls = []

    def linear(h, layer):
        weight, bias = affine_parts(layer)
        calls.append(tuple(weight.shape))
        return torch.from_numpy(
            h.numpy() @ weight.detach().numpy() + bias.detach().numpy()
        )

    with torch.no_grad():
        expected = module(X)
        got = module(X, linear)
        from_features = module.heads(module.features(X, linear))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-6)
    # Every linear layer went through the kernel, (in, out) each.
    assert calls[: len(hidden) + 1] == list(zip((5, *hidden), (*hidden, 5)))
    np.testing.assert_allclose(from_features.numpy(), expected.numpy(), atol=1e-6)


def test_sparse_forward_equals_dense_forward():
    module = make_module()
    X = sp.random(12, 5, density=0.4, format="csr", random_state=0, dtype=np.float32)
    with torch.no_grad():
        dense = module(torch.from_numpy(X.toarray()))
        sparse = module(sparse_rows_to_torch(X, "cpu"))
    np.testing.assert_allclose(sparse.numpy(), dense.numpy(), atol=1e-5)


def test_dropout_is_active_only_in_training():
    module = make_module(hidden=(64,))
    X = torch.ones(200, 5)
    with torch.no_grad():
        assert torch.equal(module(X), module(X))  # eval: deterministic
        module.train()
        hidden = module.trunk[:2](X)
        dropped = module.trunk(X)
    active = hidden != 0  # ReLU zeros stay zero either way
    dropped_fraction = (dropped[active] == 0).float().mean()
    assert 0.25 < dropped_fraction < 0.35  # p = 0.3
    kept = dropped != 0
    torch.testing.assert_close(dropped[kept], hidden[kept] / 0.7)


def test_dropout_masks_come_from_a_pool_drawn_anew():
    # Each call's mask is a window of a pool of independent draws, redrawn
    # after POOL_CALLS calls and whenever the layer goes to evaluation; a
    # pickled layer carries no pool.
    import pickle

    torch.manual_seed(0)
    layer = FastDropout(0.25)
    ones = torch.ones(50, 40)
    masks = [layer(ones) for _ in range(POOL_CALLS)]
    first_pool = layer._pool
    scale = torch.tensor(1 / 0.75).item()  # in float32, as the masks
    assert all(set(m.unique().tolist()) <= {0.0, scale} for m in masks)
    dropped = torch.stack(masks) == 0
    # 32,000 Bernoulli(0.25) draws: the share is within 0.02 of p with
    # probability 1 - 1e-10; rows and columns each drop at that rate too.
    assert abs(dropped.float().mean().item() - 0.25) < 0.02
    assert dropped.float().mean(dim=(0, 2)).sub(0.25).abs().max() < 0.1
    assert len({m.numpy().tobytes() for m in masks}) == POOL_CALLS  # all differ
    layer(ones)
    assert layer._pool is not first_pool  # drawn anew after POOL_CALLS calls
    assert pickle.loads(pickle.dumps(layer))._pool is None
    layer.eval()
    assert layer._pool is None and torch.equal(layer(ones), ones)


def test_standardisation_statistics_over_many_chunks():
    # The CPU sums run over ~4 MB chunks (4096 rows of 128 features): many
    # ragged chunks must give numpy's float64 statistics.
    from mgclassifier._data._standardisation import feature_standardisation

    rng = np.random.RandomState(0)
    X = (1e3 + rng.normal(size=(10_000, 128))).astype(np.float32)
    X[:, 5] = 3.0  # constant: scale 1
    mean, scale = feature_standardisation(torch.from_numpy(X))
    np.testing.assert_allclose(mean, X.mean(0, dtype=np.float64), rtol=1e-7)
    expected = X.std(0, dtype=np.float64)
    expected[5] = 1.0
    np.testing.assert_allclose(scale, expected, rtol=1e-6)
    assert mean.dtype == scale.dtype == torch.float32

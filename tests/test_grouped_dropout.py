"""Dropout masks shared by groups of rows on the last trunk layer."""

import copy
import pickle

import pytest
import torch

from mgclassifier._network import _grouped_dropout as grouped
from mgclassifier._network._kept_gradients import kept_gradients_of
from mgclassifier._network._module import MultiHeadMLP


def reference_logits(h, layer, heads, units, rows_per_group, p):
    """The same function through the layers, one explicit mask a group."""
    parts = []
    for rows, kept in zip(h.split(rows_per_group), units):
        mask = torch.zeros(layer.out_features, dtype=h.dtype)
        mask[kept] = 1.0 / (1.0 - p)
        parts.append(heads(torch.relu(layer(rows)) * mask))
    return torch.cat(parts)


def gradients(tensors):
    grads = [t.grad.clone() for t in tensors]
    for t in tensors:
        t.grad = None
    return grads


@pytest.mark.parametrize(
    "n_rows, group_rows, input_grad", [(9, 4, False), (130, 64, True), (64, 64, False)]
)
def test_logits_and_gradients_are_those_of_the_masked_layers(
    monkeypatch, n_rows, group_rows, input_grad
):
    # Ragged groups (9 rows: two groups of 5, one padded), one group, and an
    # input that needs its gradient (a layer below); float64, so only
    # rounding differs.
    monkeypatch.setattr(grouped, "GROUP_ROWS", group_rows)
    monkeypatch.setattr(grouped, "MIN_GROUPS", 1)
    monkeypatch.setattr(grouped, "MIN_GROUP_ROWS", 1)
    torch.manual_seed(0)
    layer = torch.nn.Linear(7, 10).double()
    heads = torch.nn.Linear(10, 5).double()
    h = torch.randn(n_rows, 7, dtype=torch.double, requires_grad=input_grad)
    tensors = [*layer.parameters(), *heads.parameters()] + ([h] if input_grad else [])

    torch.manual_seed(1)
    logits = grouped.grouped_dropout_heads(h, layer, heads, 0.6)
    logits.pow(2).sum().backward()
    got = gradients(tensors)

    n_groups = n_rows // group_rows
    torch.manual_seed(1)  # the same draw of kept units
    units = grouped._kept_units(n_groups, 10, 4, "cpu")
    expected = reference_logits(h, layer, heads, units, -(-n_rows // n_groups), 0.6)
    expected.pow(2).sum().backward()
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-12)
    for a, b in zip(got, gradients(tensors)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_each_group_keeps_a_uniform_random_share_of_the_units():
    torch.manual_seed(0)
    units = torch.cat([grouped._kept_units(8, 50, 20, "cpu") for _ in range(250)])
    assert units.shape == (2000, 20)
    # Every group keeps 20 distinct units.
    assert all(len(set(row.tolist())) == 20 for row in units)
    # 2,000 groups: each unit kept in 40% of them; a unit's count is
    # binomial (sd 22), so 5 sd either side fails with probability ~1e-5.
    counts = torch.bincount(units.reshape(-1), minlength=50)
    assert counts.sub(800).abs().max() < 110


def make_network(**params):
    torch.manual_seed(0)
    params = {"hidden_layer_sizes": (32,), "dropout": 0.5, **params}
    return MultiHeadMLP(6, [3, 4], **params)


def test_cpu_training_step_takes_the_grouped_path_and_keeps_its_gradients():
    net = make_network()
    X = torch.randn(600, 6)
    weight, head_weight = net.trunk[0].weight, net.heads.weight
    assert net._trains_grouped(X)
    arrays = []
    for _ in range(2):
        net(X).sum().backward()
        arrays.append((weight.grad, head_weight.grad))
        with_kept = [weight.grad.clone(), head_weight.grad.clone()]
        weight.grad = head_weight.grad = None
    # Between steps the optimizer sets gradients to None; the next step
    # adds into the same arrays, zeroed.
    assert arrays[0][0] is arrays[1][0] and arrays[0][1] is arrays[1][1]
    # The in-place gradients are those autograd gets returned.
    torch.manual_seed(5)
    net(X).sum().backward()
    in_place = [weight.grad.clone(), head_weight.grad.clone()]
    weight.grad = head_weight.grad = None
    torch.manual_seed(5)
    grouped.grouped_dropout_heads(
        net._standardised(X), net.trunk[0], net.heads, 0.5
    ).sum().backward()
    assert torch.equal(in_place[0], weight.grad)
    assert torch.equal(in_place[1], head_weight.grad)
    assert with_kept[0].abs().sum() > 0  # a real gradient, not zeros
    # Copies and pickles start without the arrays.
    assert not kept_gradients_of(pickle.loads(pickle.dumps(net)))._arrays
    assert not kept_gradients_of(copy.deepcopy(net))._arrays


@pytest.mark.parametrize(
    "params, training",
    [
        ({"dropout": 0.0}, True),
        ({"activation": "tanh"}, True),
        ({"n_members": 2, "hidden_layer_sizes": (8, 8)}, True),
        ({}, False),
    ],
)
def test_other_networks_and_evaluation_keep_one_mask_a_row(params, training):
    net = make_network(**params).train(training)
    assert not net._trains_grouped(torch.zeros(4, 6))


def test_bfloat16_autocast_runs_the_products_in_bfloat16():
    net = make_network()
    X = torch.randn(520, 6)
    torch.manual_seed(3)
    full = net(X)
    torch.manual_seed(3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = net(X)
    assert low.dtype == torch.bfloat16
    # bfloat16 keeps 8 bits of mantissa: the same logits within ~1%.
    torch.testing.assert_close(low.float(), full, rtol=0.03, atol=0.03)
    low.float().sum().backward()
    assert net.trunk[0].weight.grad.dtype == torch.float32


def test_in_place_gradients_add_to_other_paths_into_the_same_weight():
    # An L1 penalty reaches the weight through autograd's own accumulation,
    # before or after the grouped backward adds in place: the sum is kept.
    net = make_network()
    X = torch.randn(600, 6)
    weight = net.trunk[0].weight
    totals = []
    for kept in (kept_gradients_of(net), None):
        torch.manual_seed(7)
        logits = grouped.grouped_dropout_heads(
            net._standardised(X), net.trunk[0], net.heads, 0.5, kept
        )
        (logits.pow(2).mean() + 0.01 * weight.abs().sum()).backward()
        totals.append(weight.grad.clone())
        weight.grad = net.heads.weight.grad = None
    torch.testing.assert_close(totals[0], totals[1], rtol=1e-6, atol=1e-7)


def test_a_batch_makes_four_groups_or_more_or_gets_a_mask_a_row(monkeypatch):
    # Groups of 64 rows or a few more, at least four of 32 rows or more:
    # fewer than 128 rows get one mask a row (the network's FastDropout
    # module), as does a frozen weight.
    drawn = []
    draw = grouped._kept_units
    monkeypatch.setattr(
        grouped, "_kept_units", lambda n, *a: drawn.append(n) or draw(n, *a)
    )
    net = make_network()
    layer, heads = net.trunk[0], net.heads
    for n_rows, n_groups in [(127, None), (128, 4), (255, 4), (256, 4), (640, 10)]:
        X = torch.randn(n_rows, 6)
        logits = grouped.grouped_dropout_heads(X, layer, heads, 0.5)
        assert (logits is None) == (n_groups is None)
        if n_groups is not None:
            assert logits.shape == (n_rows, 7) and drawn.pop() == n_groups
    net.heads.weight.requires_grad_(False)  # frozen: autograd's own path
    assert grouped.grouped_dropout_heads(X, layer, heads, 0.5) is None
    net.heads.weight.requires_grad_(True)
    seen = []
    handle = net.trunk[-1].register_forward_hook(lambda m, i, o: seen.append(o))
    net(torch.randn(100, 6))
    handle.remove()
    assert len(seen) == 1  # the per-row dropout module ran


def test_steps_reuse_scratch_arrays_and_two_in_flight_keep_their_own():
    # float64, so the two orders of summing differ only in rounding.
    net = make_network().double()
    X1, X2 = torch.randn(600, 6).double(), torch.randn(520, 6).double()
    weight, head_weight = net.trunk[0].weight, net.heads.weight
    kept = kept_gradients_of(net)

    def step(X, seed):
        torch.manual_seed(seed)
        return net(X)

    # One step after another: the second reuses the first's scratch arrays.
    step(X1, 3).sum().backward()
    arrays = {name: id(a) for name, a in kept._scratch.items()}
    assert len(arrays) == 5
    step(X1, 3).sum().backward()
    assert {name: id(a) for name, a in kept._scratch.items()} == arrays
    weight.grad = head_weight.grad = None
    # Two forward passes before one backward: each keeps its own arrays, so
    # the gradients are the sum of the two steps taken one by one.
    (step(X1, 3).sum() + step(X2, 4).pow(2).sum()).backward()
    together = [weight.grad.clone(), head_weight.grad.clone()]
    weight.grad = head_weight.grad = None
    step(X1, 3).sum().backward()
    step(X2, 4).pow(2).sum().backward()
    torch.testing.assert_close(weight.grad, together[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(head_weight.grad, together[1], rtol=1e-12, atol=1e-12)

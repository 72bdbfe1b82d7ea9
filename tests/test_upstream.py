"""One test per assumption ``mgclassifier._upstream`` makes about a private
name of scikit-learn, skorch or torch: an upstream release that changes one
fails here, named, before it fails a user's fit."""

import copy
import warnings
from numbers import Real

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from _helpers import tiny_classifier
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import InvalidParameterError
from skorch import NeuralNet
from skorch.dataset import ValidSplit

from mgclassifier import _upstream
from mgclassifier._data._batches import stratified_holdout
from mgclassifier._network._net import MultiGranularityNet, _LossOnDevice


def linear_net(net_class=NeuralNet, **kwargs):
    return net_class(
        torch.nn.Linear,
        module__in_features=3,
        module__out_features=1,
        criterion=torch.nn.MSELoss,
        train_split=None,
        max_epochs=1,
        batch_size=4,
        **kwargs,
    )


def test_fit_context_validates_constructor_parameters():
    class Estimator(BaseEstimator):
        _parameter_constraints = {
            "alpha": [_upstream.Interval(Real, 0, None, closed="left")],
            "mode": [_upstream.StrOptions({"a", "b"})],
        }

        def __init__(self, alpha=1.0, mode="a"):
            self.alpha = alpha
            self.mode = mode

        @_upstream._fit_context(prefer_skip_nested_validation=True)
        def fit(self, X=None):
            self.fitted_ = True
            return self

    assert Estimator().fit().fitted_
    with pytest.raises(InvalidParameterError, match="alpha"):
        Estimator(alpha=-1.0).fit()
    with pytest.raises(InvalidParameterError, match="mode"):
        Estimator(mode="c").fit()


def test_safe_indexing_selects_rows_of_any_container():
    rows = np.array([True, False, True])
    expected = [[0, 1], [4, 5]]
    dense = np.arange(6).reshape(3, 2)
    for container in (dense, sp.csr_matrix(dense), pd.DataFrame(dense)):
        picked = _upstream._safe_indexing(container, rows)
        assert type(picked) is type(container)
        picked = picked.toarray() if sp.issparse(picked) else np.asarray(picked)
        assert picked.tolist() == expected
    assert _upstream._safe_indexing(["a", "b", "c"], rows) == ["a", "c"]


def test_check_sample_weight_validates_weights():
    X = np.zeros((3, 2))
    weights = _upstream._check_sample_weight(None, X, dtype=np.float32)
    assert weights.dtype == np.float32 and weights.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="(?i)negative"):
        _upstream._check_sample_weight(
            [1.0, -1.0, 1.0], X, dtype=np.float32, ensure_non_negative=True
        )


def test_skorch_set_training():
    net = linear_net().initialize()
    _upstream.set_training(net, False)
    assert not net.module_.training and not net.criterion_.training
    _upstream.set_training(net, True)
    assert net.module_.training and net.criterion_.training


def test_skorch_torch_component_names():
    net = linear_net().initialize()
    names = _upstream.torch_component_names(net)
    assert names == {
        "modules": ["module_"],
        "criteria": ["criterion_"],
        "optimizers": ["optimizer_"],
    }
    for attribute in (*names["modules"], *names["criteria"], *names["optimizers"]):
        assert hasattr(net, attribute)


def test_skorch_initialize_optimizers(capsys):
    # The optimizer and the setters of its virtual parameters, without the
    # re-initialisation note a verbose net would print.
    net = linear_net(verbose=1).initialize()
    net.virtual_params_ = {}
    _upstream.initialize_optimizers(net)
    assert capsys.readouterr().out == ""
    assert net.verbose == 1
    net.set_params(lr=0.25)
    assert net.optimizer_.param_groups[0]["lr"] == 0.25


def test_skorch_printing_callbacks_write_through_sink(capsys):
    # _PrintsWithoutSink restates PrintLog's and EarlyStopping's private
    # _sink(text, verbose): skorch must still call it for every line.
    from mgclassifier._network._callbacks import (
        BestEpochEarlyStopping,
        LevelNamePrintLog,
    )

    X = np.random.RandomState(0).normal(size=(16, 3)).astype(np.float32)
    y = X.sum(1, keepdims=True)
    for verbose in (0, 1):
        lines = []
        net = NeuralNet(
            torch.nn.Linear,
            module__in_features=3,
            module__out_features=1,
            criterion=torch.nn.MSELoss,
            train_split=ValidSplit(4),
            max_epochs=2,
            verbose=verbose,
            callbacks__print_log=LevelNamePrintLog(sink=lines.append),
            callbacks=[BestEpochEarlyStopping(patience=1, sink=None)],
        )
        net.fit(X, y)
        assert len(lines) >= 2  # a given sink gets every line
        assert capsys.readouterr().out == ""  # so nothing reaches stdout
        net.set_params(callbacks__print_log=LevelNamePrintLog())
        net.fit(X, y)
        assert (capsys.readouterr().out != "") == bool(verbose)


def test_skorch_check_device(monkeypatch):
    net = linear_net()
    assert str(_upstream.check_device(net, "cpu", "cpu")) == "cpu"
    # A model saved on CUDA loads on the CPU of a machine without CUDA.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        device = _upstream.check_device(net, "cuda", torch.device("cpu"))
    assert torch.device(device).type == "cpu"
    assert any("cuda" in str(w.message).lower() for w in caught)


def test_torch_foreach_lerp(monkeypatch):
    sources = [torch.ones(3), torch.full((2,), 4.0)]

    def lerped():
        targets = [torch.zeros(3), torch.zeros(2)]
        _upstream.foreach_lerp_(targets, sources, 0.25)
        return [t.tolist() for t in targets]

    expected = [[0.25, 0.25, 0.25], [1.0, 1.0]]
    assert hasattr(torch, "_foreach_lerp_")  # the fused kernel is still there
    assert lerped() == expected
    monkeypatch.delattr(torch, "_foreach_lerp_")
    assert lerped() == expected  # and the fallback agrees


def test_skorch_reads_the_batch_loss_with_item():
    # MultiGranularityNet defers loss reads by handing skorch a placeholder
    # whose item() returns itself: skorch must record step["loss"].item().
    # Its own on_epoch_end then reads them before any callback (skorch's
    # train_loss scoring) averages them: the net's hook must run first.
    class DeferringNet(NeuralNet):
        def train_step(self, batch, **fit_params):
            step = super().train_step(batch, **fit_params)
            return {**step, "loss": _LossOnDevice(step["loss"].detach())}

        def on_epoch_end(self, net, **kwargs):
            batches = self.history[-1]["batches"]
            self.recorded_ = [batch["train_loss"] for batch in batches]
            for batch in batches:
                batch["train_loss"] = batch["train_loss"].tensor.item()
            super().on_epoch_end(net, **kwargs)

    X = np.random.RandomState(0).normal(size=(8, 3)).astype(np.float32)
    y = X.sum(axis=1, keepdims=True)
    net = linear_net(DeferringNet).fit(X, y)
    assert len(net.recorded_) == 2
    assert all(isinstance(loss, _LossOnDevice) for loss in net.recorded_)
    assert np.isfinite(net.history[-1, "train_loss"])


def test_skorch_train_step_single_is_restated_faithfully():
    # MultiGranularityNet.train_step_single restates skorch's (minus the
    # per-batch mode walk): same loss, same gradients, same returned keys.
    X = torch.randn(6, 3)
    y = torch.randn(6, 1)

    def step(train_step_single):
        torch.manual_seed(0)
        net = linear_net().initialize()
        result = train_step_single(net, (X, y))
        grads = [p.grad.clone() for p in net.module_.parameters()]
        return result, grads

    theirs, their_grads = step(NeuralNet.train_step_single)
    ours, our_grads = step(MultiGranularityNet.train_step_single)
    assert set(ours) == set(theirs) == {"loss", "y_pred"}
    assert torch.equal(ours["loss"], theirs["loss"])
    assert all(torch.equal(a, b) for a, b in zip(our_grads, their_grads))


def test_skorch_initialize_optimizer_is_restated_faithfully(tree_data):
    # MultiGranularityNet.initialize_optimizer builds EagerAdam with the
    # arguments skorch's own would give torch.optim.Adam: the same groups
    # (bias without weight decay), learning rate and options.
    net = tiny_classifier(max_epochs=1, alpha_l2=0.01, lr=0.05).fit(*tree_data).net_
    ours = net.initialize_optimizer().optimizer_
    theirs = NeuralNet.initialize_optimizer(net).optimizer_
    assert type(ours) is _upstream.EagerAdam
    assert type(theirs) is torch.optim.Adam
    assert ours.defaults == theirs.defaults
    assert ours.param_groups == theirs.param_groups
    assert sorted(group["weight_decay"] for group in ours.param_groups) == [0.0, 0.01]


def test_validate_params_checks_function_arguments():
    @_upstream.validate_params(
        {"n": [_upstream.Interval(Real, 1, None, closed="left")]},
        prefer_skip_nested_validation=True,
    )
    def function(n):
        return n

    assert function(2) == 2
    with pytest.raises(_upstream.InvalidParameterError, match="'n' parameter"):
        function(0)
    assert issubclass(_upstream.InvalidParameterError, (ValueError, TypeError))


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize(
    ("n_samples", "n_strata", "fraction"),
    [(40, 2, 0.1), (1000, 37, 0.2), (997, 5, 0.5)],
)
def test_approximate_mode_draws_scikit_learns_stratified_split(
    seed, n_samples, n_strata, fraction
):
    # stratified_holdout replays StratifiedShuffleSplit's draws
    # (_approximate_mode, then one permutation per stratum): the same rows.
    rng = np.random.RandomState(seed)
    strata = rng.randint(-1, n_strata - 1, n_samples)  # -1: no finest label
    strata[: 2 * n_strata] = np.repeat(np.arange(-1, n_strata - 1), 2)
    n_valid = int(np.ceil(fraction * n_samples))
    train, valid = stratified_holdout(strata, n_valid, random_state=seed)
    expected_train, expected_valid = train_test_split(
        np.arange(n_samples), test_size=fraction, stratify=strata, random_state=seed
    )
    assert np.array_equal(valid, np.sort(expected_valid))
    assert np.array_equal(train, np.sort(expected_train))


@pytest.mark.parametrize(
    ("options", "bias_decay"),
    [
        ({}, None),
        ({"fused": True}, None),
        ({"foreach": True, "amsgrad": True}, None),
        ({"fused": True, "weight_decay": 0.1}, 0.0),  # as adam_options sets it
    ],
)
def test_torch_eager_adam_steps_as_torch_adam(options, bias_decay):
    # EagerAdam has the methods torch's _disable_dynamo and
    # _use_grad_for_differentiable wrap: the same steps, bit for bit, the
    # same state dict, and state loaded from torch's Adam goes on alike.
    torch.manual_seed(0)
    initial = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Linear(4, 3))
    X, y = torch.randn(16, 5), torch.randn(16, 3)

    def train(optimizer_class, steps, model=None, state=None):
        model = model if model is not None else copy.deepcopy(initial)
        params = model.parameters()
        if bias_decay is not None:
            named = list(model.named_parameters())
            params = [
                {"params": [p for name, p in named if name.endswith("weight")]},
                {
                    "params": [p for name, p in named if name.endswith("bias")],
                    "weight_decay": bias_decay,
                },
            ]
        optimizer = optimizer_class(params, lr=0.01, **options)
        if state is not None:
            optimizer.load_state_dict(state)
        for _ in range(steps):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(X), y).backward()
            optimizer.step()
        return model, optimizer

    def same(a, b):
        return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))

    theirs, their_optimizer = train(torch.optim.Adam, 3)
    ours, our_optimizer = train(_upstream.EagerAdam, 3)
    assert isinstance(our_optimizer, torch.optim.Adam)
    assert same(ours, theirs)
    their_state, our_state = their_optimizer.state_dict(), our_optimizer.state_dict()
    assert our_state["param_groups"] == their_state["param_groups"]
    assert our_state["state"].keys() == their_state["state"].keys()
    for index, values in our_state["state"].items():
        for key, value in values.items():
            assert not value.requires_grad  # the step ran without autograd
            assert torch.equal(value, their_state["state"][index][key])
    # Resumed from torch's own state (a copy each: loading shares tensors):
    # the same as torch going on.
    theirs, _ = train(torch.optim.Adam, 2, theirs, copy.deepcopy(their_state))
    ours, _ = train(_upstream.EagerAdam, 2, ours, copy.deepcopy(their_state))
    assert same(ours, theirs)


def test_torch_eager_adam_keeps_the_step_hooks():
    # Optimizer.__init__ wraps a class's step in its profiler and hook
    # wrapper; EagerAdam's step gets it as torch's Adam's does.
    param = torch.nn.Parameter(torch.ones(2))
    optimizer = _upstream.EagerAdam([param], lr=0.1)
    calls = []
    optimizer.register_step_pre_hook(lambda *args: calls.append("pre"))
    optimizer.register_step_post_hook(lambda *args: calls.append("post"))
    param.sum().backward()
    optimizer.step()
    assert calls == ["pre", "post"]
    assert not torch.equal(param.detach(), torch.ones(2))

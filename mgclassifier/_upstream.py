"""Every reliance on a private name of scikit-learn, skorch or torch.

Upstream libraries may change what they keep out of their public API in any
release. What mgclassifier uses of it is gathered here, each entry with the
assumption it makes and what it buys; ``tests/test_upstream.py`` checks each
assumption with one test named after the entry, so an upstream release that
breaks one fails that test in CI rather than a user's fit.

Four assumptions have no function of their own, because they are about how
skorch calls us. skorch's batch loop records a step's loss as ``step["loss"].item()``
(``MultiGranularityNet`` hands it a placeholder whose ``item()`` defers the
read; ``test_skorch_reads_the_batch_loss_with_item``), and its
``train_step`` gets the loss and prediction from ``train_step_single``, which
``MultiGranularityNet`` restates without skorch's per-batch mode walk
(``test_skorch_train_step_single_is_restated_faithfully``). skorch's
``PrintLog`` and ``EarlyStopping`` print every line through their private
``_sink(text, verbose)``, which ``_callbacks._PrintsWithoutSink`` restates
so that no sink needs to be the builtin ``print``
(``test_skorch_printing_callbacks_write_through_sink``). Its
``initialize_optimizer`` is restated too, to build :class:`EagerAdam`
where the net names ``torch.optim.Adam``
(``test_skorch_initialize_optimizer_is_restated_faithfully``).
"""

import inspect

import torch

# scikit-learn ---------------------------------------------------------------
# `_fit_context` validates the constructor parameters against
# `_parameter_constraints` once per fit and skips the nested validation of
# inner estimators: how every scikit-learn estimator's fit starts.
# `_check_sample_weight` validates sample weights with scikit-learn's own
# messages. `Interval`/`StrOptions` are the constraint types of
# `_parameter_constraints`, `validate_params` checks a function's arguments
# against the same kind of constraints and raises `InvalidParameterError` (a
# ValueError and a TypeError); third-party packages such as imbalanced-learn
# import them from the same private module. `_safe_indexing` selects rows of
# arrays, sparse matrices, DataFrames and lists alike. `_approximate_mode`
# is how StratifiedShuffleSplit shares rows out between strata;
# `_data.stratified_holdout` draws the same split without its per-row loop.
from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_params,
)
from sklearn.utils.extmath import _approximate_mode
from sklearn.utils.validation import _check_sample_weight

__all__ = [
    "EagerAdam",
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "_approximate_mode",
    "_check_sample_weight",
    "_fit_context",
    "_safe_indexing",
    "check_device",
    "foreach_lerp_",
    "initialize_optimizers",
    "set_training",
    "torch_component_names",
    "validate_params",
]


# skorch ---------------------------------------------------------------------
def set_training(net, training=True):
    """Put the net's module and criterion in training (or eval) mode.

    skorch's ``NeuralNet._set_training``, which also walks every submodule;
    ``MultiGranularityNet.train_step_single`` calls it only when the mode is
    wrong instead of before every batch.
    """
    net._set_training(training)


def torch_component_names(net):
    """Attribute names of the net's torch modules, criteria and optimizers.

    skorch registers them in ``net._modules``, ``net._criteria`` and
    ``net._optimizers`` (names without the trailing underscore) as
    ``initialize_*`` creates them; the pickle hooks store each one's state
    dict instead of skorch's opaque blob, and rebuild the optimizers after
    the modules and criteria.

    Returns
    -------
    dict of {"modules", "criteria", "optimizers"} to list of str

    Examples
    --------
    >>> import torch
    >>> from skorch import NeuralNet
    >>> net = NeuralNet(torch.nn.Linear, module__in_features=2,
    ...                 module__out_features=1, criterion=torch.nn.MSELoss)
    >>> torch_component_names(net.initialize())
    {'modules': ['module_'], 'criteria': ['criterion_'], 'optimizers': ['optimizer_']}
    """
    return {
        kind: [f"{name}_" for name in getattr(net, f"_{kind}")]
        for kind in ("modules", "criteria", "optimizers")
    }


def check_device(net, device, map_location):
    """The device a loaded net goes to: skorch's ``NeuralNet._check_device``.

    It falls back to the CPU, with a warning, when the model was saved on a
    CUDA device and this machine has none.
    """
    return net._check_device(device, map_location)


def initialize_optimizers(net):
    """Create the net's optimizers and register their setters, quietly.

    skorch's ``NeuralNet._initialize_optimizer``: the public
    ``initialize_optimizer`` only creates the optimizers, while this private
    wrapper also registers the setters that let ``set_params(lr=...)``
    reach a live optimizer (``functools.partial`` objects in
    ``virtual_params_``, which the pickle hooks leave out of a saved model
    and rebuild on load). It prints a re-initialisation note when the net is
    verbose, which a load should not.
    """
    verbose, net.verbose = net.verbose, 0
    try:
        net._initialize_optimizer()
    finally:
        net.verbose = verbose


# torch ----------------------------------------------------------------------
def foreach_lerp_(targets, sources, weight):
    """``target += weight * (source - target)`` for each pair, in place.

    torch's private ``_foreach_lerp_`` does all of them in one fused kernel
    (a running weight average over every parameter once per batch); a plain
    loop of ``Tensor.lerp_`` is the fallback should it go away.
    """
    lerp = getattr(torch, "_foreach_lerp_", None)
    if lerp is not None:
        lerp(targets, sources, weight)
        return
    for target, source in zip(targets, sources):
        target.lerp_(source, weight)


class EagerAdam(torch.optim.Adam):
    """torch's ``Adam`` that does not import torch's compiler stack.

    ``torch.optim.Optimizer`` wraps ``add_param_group`` (which its
    ``__init__`` calls), ``zero_grad``, ``state_dict`` and
    ``load_state_dict`` in the private ``torch._disable_dynamo``, and
    ``Adam.step`` in the private ``_use_grad_for_differentiable``: both
    import ``torch._dynamo`` on their first call, only to keep
    ``torch.compile`` from tracing into them. That import (about 800
    modules, sympy among them) cost a process's first fit 1.2 s on a 2-core
    AMD EPYC, more than an epoch of a small table. Nothing here is
    compiled, so this class has the methods those decorators wrap
    (``functools.wraps`` keeps them as ``__wrapped__``), and ``step`` runs
    with gradients off as the wrapper does without ``differentiable``
    (its graph breaks do nothing outside compilation). The update is
    torch's, fused kernel included.
    """

    add_param_group = inspect.unwrap(torch.optim.Optimizer.add_param_group)
    zero_grad = inspect.unwrap(torch.optim.Optimizer.zero_grad)
    state_dict = inspect.unwrap(torch.optim.Optimizer.state_dict)
    load_state_dict = inspect.unwrap(torch.optim.Optimizer.load_state_dict)
    _adam_step = inspect.unwrap(torch.optim.Adam.step)

    def step(self, closure=None):
        """One Adam step, as ``torch.optim.Adam.step``."""
        with torch.set_grad_enabled(self.defaults["differentiable"]):
            return self._adam_step(closure)

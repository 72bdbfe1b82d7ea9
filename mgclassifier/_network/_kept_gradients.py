"""Weight gradient arrays a module keeps between training steps.

The optimizer sets every gradient to None after a step, so a layer whose
backward returns a fresh dense gradient gets a newly allocated array each
step, whose pages are faulted in and zero-filled again: half a step for the
sparse first layer's 266 MB gradient on 20 Newsgroups, a quarter of the
grouped dropout layer's backward at Diatoms' sizes. A backward that adds
into ``weight.grad`` (:meth:`KeptGradients.grad_of`) reuses one array a
weight instead; where autograd must see the gradient, it returns it as
usual (:func:`gradients_must_pass_autograd`).

The same object lends scratch arrays (:meth:`KeptGradients.take`) to a
training step's large temporaries, for the same reason: the grouped dropout
layer's gathered weights and weight-gradient products are megabytes each
(tens with numeric embeddings), and fresh ones fault their pages in every
step (a third of an embedded Diatoms fit).
"""

import torch


class KeptGradients:
    """A module's kept gradient arrays, one per weight.

    Not pickled or copied: a copy starts empty.

    Examples
    --------
    >>> import torch
    >>> weight = torch.nn.Parameter(torch.ones(2, 3))
    >>> kept = KeptGradients()
    >>> kept.grad_of(weight).add_(1.0).sum().item()
    6.0
    >>> weight.grad = None  # as the optimizer leaves it after a step
    >>> kept.grad_of(weight).sum().item()  # the same array, zeroed
    0.0
    """

    def __init__(self):
        self._arrays, self._scratch = {}, {}

    def __reduce__(self):
        return (KeptGradients, ())  # a pickle holds none of the arrays

    def __setstate__(self, state):
        self.__init__()  # a pickle of an earlier release held a state

    def __deepcopy__(self, memo):
        return KeptGradients()

    def grad_of(self, weight):
        """``weight.grad``, set to this weight's kept array, zeroed, if it
        is None."""
        if weight.grad is None:
            array = self._arrays.get(id(weight))
            if _fits(array, weight.shape, weight):
                array.zero_()
            else:
                array = self._arrays[id(weight)] = torch.zeros_like(weight)
            weight.grad = array
        return weight.grad

    def take(self, name, shape, like):
        """A scratch array of ``shape`` (``like``'s dtype and device) for
        ``out=``: the one last given back under ``name``, or a new one.

        Taken out until :meth:`give_back`, so two steps in flight (a second
        forward before the first backward, a graph dropped unused) never
        share one; a step that never gives back costs only a new array.

        Examples
        --------
        >>> import torch
        >>> kept = KeptGradients()
        >>> a = kept.take("t", (2, 3), torch.ones(1))
        >>> kept.take("t", (2, 3), torch.ones(1)) is a  # still taken out
        False
        >>> kept.give_back("t", a)
        >>> kept.take("t", (2, 3), torch.ones(1)) is a
        True
        """
        array = self._scratch.pop(name, None)
        return array if _fits(array, shape, like) else like.new_empty(shape)

    def give_back(self, name, array):
        """Return a scratch array from :meth:`take` once nothing reads it."""
        self._scratch[name] = array

    def clear(self):
        """Let every kept array go."""
        self._arrays.clear()
        self._scratch.clear()


def _fits(array, shape, like):
    """Whether a kept ``array`` (or None) can serve as one of ``shape`` with
    ``like``'s dtype and device."""
    return (
        array is not None
        and array.shape == shape
        and array.dtype == like.dtype
        and array.device == like.device
    )


def kept_gradients_of(module):
    """The :class:`KeptGradients` of ``module``, made on first use (a module
    unpickled from an older release has none)."""
    kept = module.__dict__.get("_kept_gradients")
    if kept is None:
        kept = module.__dict__["_kept_gradients"] = KeptGradients()
    return kept


def gradients_must_pass_autograd():
    """True when gradients must be returned to autograd, not added in place:
    ``DistributedDataParallel`` averages them in autograd's hooks, which an
    in-place gradient passes by."""
    return torch.distributed.is_available() and torch.distributed.is_initialized()

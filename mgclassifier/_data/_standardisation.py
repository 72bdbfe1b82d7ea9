"""Input standardisation: the per-feature ``(mean, scale)`` the network
subtracts and divides by, stored in it as buffers.

Computed once per fit, from an in-memory ``X`` (:func:`feature_standardisation`,
on the training device) or from an out-of-core one chunk by chunk
(:func:`chunk_standardisation`, during its validation pass); read back from a
fitted network to continue training it (:func:`fitted_standardisation`).
"""

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.sparsefuncs import mean_variance_axis


def input_standardisation(X, feature_scaling):
    """The ``(mean, scale)`` the network applies to ``X``, or None.

    ``feature_scaling="standard"`` standardises each feature
    (:func:`feature_standardisation`), ``"none"`` passes it as it is; only
    flat float features are standardised (not images, not token ids), so
    any other ``X`` gets None.
    """
    if not (X.ndim == 2 and (sp.issparse(X) or X.is_floating_point())):
        return None
    if feature_scaling == "standard":
        return feature_standardisation(X)
    return identity_standardisation(X.shape[1])


def identity_standardisation(n_features):
    """float32 ``(mean, scale)`` that leave every feature as it is."""
    return torch.zeros(n_features), torch.ones(n_features)


def feature_standardisation(X):
    """Per-feature mean and scale (std, 1 where constant); no centring if sparse.

    ``X`` is a scipy sparse matrix or a dense tensor on the training device,
    where the sums run (chunked, in float64, so no float64 copy of the whole
    of ``X`` is made). Returns float32 CPU tensors.
    """
    if sp.issparse(X):
        mean, var = mean_variance_axis(X, axis=0)
        mean, var = torch.as_tensor(np.zeros_like(mean)), torch.as_tensor(var)
    else:
        # On the CPU each float64 chunk is a fresh allocation, so it should
        # stay small (~4 MB): large ones are mapped and zeroed by the kernel
        # page by page, which took 13x longer over 1M x 128 than the sums.
        # On a GPU larger chunks mean fewer kernel launches.
        chunk_bytes = 2**22 if X.device.type == "cpu" else 2**26
        row_bytes = 8 * max(1, X[:1].numel())
        chunks = X.split(max(1, chunk_bytes // row_bytes))
        mean = sum(chunk.sum(0, dtype=torch.float64) for chunk in chunks) / len(X)
        var = sum((chunk.double() - mean).square_().sum(0) for chunk in chunks)
        mean, var = mean.cpu(), var.cpu() / len(X)
    return standardisation_from_moments(mean, var)


def standardisation_from_moments(mean, var):
    """float32 ``(mean, scale)`` from float64 per-feature mean and variance.

    The scale is the standard deviation, 1 where a feature is constant (to
    float64 rounding of its mean), so constant features pass unscaled.
    """
    scale = var.sqrt()
    scale[scale < 1e-12 * mean.abs().clamp_min(1.0)] = 1.0
    return mean.float(), scale.float()


def chunk_standardisation(chunks, n_features, not_finite):
    """Per-feature mean and scale from chunks of rows, in one pass.

    Each chunk's mean and sum of squared deviations are computed in float64
    as :func:`feature_standardisation` does for a block of rows, then merged
    (Chan, Golub and LeVeque's pairwise update), which stays accurate when
    the mean is large against the spread. One chunk gives the in-memory
    statistics bit for bit; more agree with them to float64 rounding.

    Parameters
    ----------
    chunks : iterable of (start, stop, ndarray of shape (stop - start, n_features))
        float32 rows, such as :meth:`OutOfCoreArray.chunks` gives.
    n_features : int
    not_finite : callable
        Called as ``not_finite(row, start, stop)`` with the first row holding
        NaN or infinity and its chunk's rows; it raises.

    Returns
    -------
    mean, scale : float32 tensors of shape (n_features,)
        ``scale`` is the standard deviation, 1 where a feature is constant.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]], dtype=np.float32)
    >>> mean, scale = chunk_standardisation(
    ...     [(0, 2, X[:2]), (2, 3, X[2:])], n_features=2, not_finite=None)
    >>> mean.tolist(), [round(s, 6) for s in scale.tolist()]  # 5 is constant
    ([3.0, 5.0], [1.632993, 1.0])
    """

    def parts():
        for start, stop, rows in chunks:
            if len(rows) == 0:
                continue
            rows = torch.from_numpy(rows)
            total = rows.sum(0, dtype=torch.float64)
            if not torch.isfinite(total).all():  # float32 rows: no overflow
                bad = ~torch.isfinite(rows).all(dim=1)
                not_finite(start + int(bad.nonzero()[0, 0]), start, stop)
            yield len(rows), *_block_moments(rows, total)

    count, mean, m2 = merged_moments(parts(), n_features)
    return standardisation_from_moments(mean, m2 / count)


def block_moments(X, block=65_536):
    """``(count, mean, m2)`` of the rows of ``X`` per feature, in float64.

    ``m2`` is the sum of squared deviations from the mean. ``X`` is an
    array, a sparse matrix or an out-of-core array, read a block of rows at
    a time (a sparse one whole).
    """
    if sp.issparse(X):
        mean, var = mean_variance_axis(X.tocsr().astype(np.float64), axis=0)
        mean, var = torch.as_tensor(mean), torch.as_tensor(var)
        return X.shape[0], mean, var * X.shape[0]
    if hasattr(X, "chunks") and callable(X.chunks):  # an OutOfCoreArray
        blocks = (rows for _, _, rows in X.chunks())
    else:
        blocks = (X[start : start + block] for start in range(0, X.shape[0], block))

    def parts():
        for rows in blocks:
            if len(rows) > 0:
                rows = torch.as_tensor(np.asarray(rows))
                yield len(rows), *_block_moments(rows, rows.sum(0, dtype=torch.float64))

    return merged_moments(parts(), X.shape[1])


def _block_moments(rows, total):
    """Mean and sum of squared deviations of a block whose column sums
    (float64) are ``total``."""
    mean = total / len(rows)
    return mean, rows.double().sub_(mean).square_().sum(0)


def merged_moments(parts, n_features):
    """``(count, mean, m2)`` of the union of blocks of rows.

    ``parts`` yields each block's ``(count, mean, m2)`` (float64 tensors);
    they are merged in order by Chan, Golub and LeVeque's pairwise update,
    which stays accurate when the mean is large against the spread.
    """
    count = 0
    mean = torch.zeros(n_features, dtype=torch.float64)
    m2 = torch.zeros(n_features, dtype=torch.float64)
    for n, part_mean, part_m2 in parts:
        if n == 0:
            continue
        merged = count + n
        delta = part_mean - mean
        mean = mean + delta * (n / merged)
        m2 = m2 + part_m2 + delta.square() * (count * n / merged)
        count = merged
    return count, mean, m2


def fitted_standardisation(module):
    """A fitted network's input ``(mean, scale)``, as CPU copies.

    None for a custom trunk fitted on inputs that are not standardised
    (image arrays, token ids).
    """
    if module.input_mean is None:
        return None
    return tuple(
        buffer.detach().to("cpu", copy=True)
        for buffer in (module.input_mean, module.input_scale)
    )

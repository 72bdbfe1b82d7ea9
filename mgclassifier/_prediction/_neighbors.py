"""Votes of the nearest training rows, blended into the path probabilities.

With ``n_neighbors > 0`` a fit keeps the network's learned features of the
rows it trained on (the last trunk layer's output, an ensemble's averaged
over its members; projected on their first ``NEIGHBOR_DIMENSIONS``
principal components where the layer is wider; each row scaled to unit
length) and the path of each of those rows. A predicted row's
``n_neighbors`` nearest of them by cosine similarity vote for their paths,
each with weight one over its cosine distance (as
:class:`~sklearn.neighbors.KNeighborsClassifier` does with
``weights="distance"``), and the row's path probabilities become::

    (1 - neighbors_weight) * network's + neighbors_weight * votes

A node's probability is still the sum of its children's, so every level
moves with the finest. The network's features place rows of one class
together; the votes add what a parametric head smooths away (rows that
nearly repeat a training row, classes with few rows).

The blend reaches the rest of the prediction maths as path scores: scores
``T * log(p)`` give back ``p`` under the engine's softmax at temperature
``T``, and their argmax is the best blended path.
"""

import copy

import numpy as np
import torch

NEIGHBOR_DIMENSIONS = 128
"""Principal components the kept features are projected on (a layer of at
most this width is kept whole). On ImCLEF07A/D and Diatoms 64 to 256
components gave the votes the gain of the 1,024 features themselves (random
projections to as many lost part of it), for an eighth of the memory and
of the time of the search."""

SEARCH_CHUNK_ELEMENTS = 2**22
"""Similarities computed at a time (16 MB in float32): predicting 50,000
rows against 10,000 kept ones in one product took 2.2 GB more memory."""

COSINE_DISTANCE_FLOOR = 1e-6
"""Cosine distance below which a neighbour counts as the row itself: one
over it is the largest vote weight (a repeated training row decides)."""


class NeighborVotes:
    """The training rows' features and paths, and the blend they make.

    Parameters
    ----------
    features : ndarray of shape (n_rows, n_features)
        The learned features of the rows the network trained on, each row
        of unit length (see :func:`unit_rows`).
    paths : ndarray of int of shape (n_rows,)
        Each row's path (an index into the prediction engine's paths).
    n_paths : int
        Paths of the tree.
    n_neighbors : int
        Neighbours that vote; at most ``n_rows`` are used.
    weight : float
        ``neighbors_weight``, the votes' share of the blend, in [0, 1].
    projection : tuple of two ndarrays or None, default=None
        ``(mean, components)``: rows' features ``f`` are compared as
        ``(f - mean) @ components`` (what ``features`` were made of); None
        compares them as they are.

    Attributes
    ----------
    numpy_blas : bool
        Whether the similarities of CPU rows are numpy's product (True, the
        default: on BLAS threads of its own while prediction holds torch's
        to one) or torch's (False: what a traced graph records, see
        :meth:`traceable`).

    Examples
    --------
    >>> import numpy as np, torch
    >>> votes = NeighborVotes(
    ...     unit_rows(np.eye(2, dtype=np.float32)), np.array([0, 1]), 2, 1, 0.5
    ... )
    >>> votes.path_votes(torch.tensor([[1.0, 0.1]])).tolist()
    [[1.0, 0.0]]
    >>> scores = torch.zeros((1, 2))  # the network: 0.5 / 0.5
    >>> _ = votes.blend(scores, torch.tensor([[1.0, 0.1]]), temperature=1.0)
    >>> [round(p, 4) for p in scores.softmax(-1)[0].tolist()]
    [0.75, 0.25]
    """

    def __init__(self, features, paths, n_paths, n_neighbors, weight, projection=None):
        self.features = torch.from_numpy(np.ascontiguousarray(features))
        self.projection = None
        if projection is not None:
            self.projection = tuple(
                torch.from_numpy(np.asarray(a, dtype=np.float32)) for a in projection
            )
        self.paths = torch.from_numpy(np.asarray(paths, dtype=np.int64))
        self.n_paths = int(n_paths)
        self.n_neighbors = min(int(n_neighbors), len(self.paths))
        self.weight = float(weight)
        self.numpy_blas = True

    def traceable(self):
        """A copy whose search is torch operations only (``torch.export``
        records them: a matrix product, top-k, a scatter-add), sharing the
        arrays."""
        votes = copy.copy(self)
        votes.numpy_blas = False
        return votes

    def arrays(self):
        """``(features, paths, projection)`` as numpy arrays, the
        constructor's arguments of the same names (what a model saves)."""
        projection = self.projection
        if projection is not None:
            projection = tuple(a.numpy() for a in projection)
        return self.features.numpy(), self.paths.numpy(), projection

    def similarities(self, features):
        """Cosine similarity of each row's learned features to every kept
        row's, ``(n_rows, n_kept)``, float32."""
        return self._similarities(self._unit_rows(features))

    def path_votes(self, features):
        """Each row's distance-weighted votes over the paths, summing to 1,
        ``(n_rows, n_paths)``, float32.

        The rows are compared with the kept ones :data:`SEARCH_CHUNK_ELEMENTS`
        similarities at a time, so memory does not grow with the rows
        predicted at once (a traced graph compares them in one product).
        """
        rows = self._unit_rows(features)
        votes = rows.new_zeros((rows.shape[0], self.n_paths))
        if not self.numpy_blas:  # traced: a loop would fix the batch size
            self._add_votes(rows, votes)
        else:
            step = max(1, SEARCH_CHUNK_ELEMENTS // len(self.paths))
            for start in range(0, rows.shape[0], step):
                stop = start + step
                self._add_votes(rows[start:stop], votes[start:stop])
        return votes.div_(votes.sum(dim=1, keepdim=True))

    def _unit_rows(self, features):
        """The rows' features (an ensemble's averaged, :func:`members_mean`)
        projected as the kept ones were, unit length, float32 (whatever the
        rows' dtype: the neighbours found do not need more, and the bank is
        not copied per call)."""
        rows = members_mean(features).float()
        if self.projection is not None:
            mean, components = (a.to(rows.device) for a in self.projection)
            # (f - mean) @ components without a centred copy of the features.
            rows = (rows @ components).sub_(mean @ components)
        return rows / rows.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    def _similarities(self, rows):
        # On the CPU numpy's BLAS, on its own threads (prediction holds
        # torch's to one).
        if rows.is_cpu and self.numpy_blas:
            return torch.from_numpy(rows.numpy() @ self.features.numpy().T)
        return rows @ self.features.to(rows.device).T

    def _add_votes(self, rows, votes):
        """Add the ``rows``' nearest kept rows' votes into ``votes``."""
        similarity, nearest = self._similarities(rows).topk(self.n_neighbors, dim=1)
        distance = (1.0 - similarity).clamp_min(COSINE_DISTANCE_FLOOR)
        paths = self.paths.to(votes.device)[nearest]
        votes.scatter_add_(1, paths, distance.reciprocal())

    def blend(self, scores, features, temperature):
        """Turn path ``scores`` (``(n_rows, n_paths)``, or an ensemble's
        ``(n_rows, n_members, n_paths)``) into the blend's, in place.

        ``features``: the rows' learned features, an ensemble's per member
        (``(n_rows, n_members, width)``, averaged here). Each member blends
        with the same votes, so the members' averaged probabilities are the
        network's blended with the votes.
        """
        votes = self.path_votes(features).to(scores.dtype)
        if scores.dim() == 3:
            votes = votes[:, None, :]
        proba = (scores / temperature).softmax(dim=-1).mul_(1.0 - self.weight)
        proba.add_(votes, alpha=self.weight)
        return scores.copy_(proba.log_().mul_(temperature))


def members_mean(features):
    """Learned features as the votes read them: an ensemble's ``(n_rows,
    n_members, width)`` averaged over its members, one network's as they
    are."""
    return features.mean(dim=1) if features.dim() == 3 else features


def unit_rows(features):
    """``features`` (numpy) with each row scaled to unit length, float32; an
    all-zero row stays zero (it is near nothing)."""
    features = np.asarray(features, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", features, features))[:, None]
    return features / np.maximum(norms, 1e-12)

"""The early-stopping split: stratified when it can be, random otherwise."""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from mgclassifier._data import ArrayDataset, HoldoutSplit, stratified_holdout


@pytest.mark.parametrize(
    ("strata", "n_valid"),
    [
        ([0, 0, 0, 1, 2, 2], 3),  # stratum 1 has one row
        ([0, 0, 1, 1, 2, 2, 3, 3], 2),  # the held-out part has no room for 4
        ([0, 0, 1, 1, 2, 2, 3, 3], 6),  # nor the training part
    ],
)
def test_stratified_holdout_refuses_what_cannot_be_stratified(strata, n_valid):
    assert stratified_holdout(np.array(strata), n_valid, random_state=0) is None


def test_holdout_split_falls_back_to_scikit_learns_random_split():
    strata = np.array([0, 0, 0, 0, 0, 1, 2, 2, 2, 2])  # stratum 1: one row
    dataset = ArrayDataset(np.zeros((10, 2), np.float32), strata[:, None])
    train, valid = HoldoutSplit(0.3, random_state=3).indices(dataset)
    expected_train, expected_valid = train_test_split(
        np.arange(10), test_size=0.3, random_state=3
    )
    assert valid.tolist() == sorted(expected_valid)
    assert train.tolist() == sorted(expected_train)


def test_holdout_split_stratifies_when_it_can():
    strata = np.repeat([0, 1, -1], [6, 6, 8])  # -1: rows without a finest label
    dataset = ArrayDataset(np.zeros((20, 2), np.float32), strata[:, None])
    train, valid = HoldoutSplit(0.3, random_state=0).indices(dataset)
    assert sorted(np.concatenate([train, valid]).tolist()) == list(range(20))
    assert np.bincount(strata[valid] + 1).tolist() == [2, 2, 2]

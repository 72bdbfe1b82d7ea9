"""The early-stopping split: stratified when it can be, random otherwise."""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from mgclassifier._data._batches import HoldoutSplit, stratified_holdout
from mgclassifier._data._datasets import ArrayDataset


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
    train, valid = HoldoutSplit(0.3, random_state=3).parts(dataset)[:2]
    expected_train, expected_valid = train_test_split(
        np.arange(10), test_size=0.3, random_state=3
    )
    assert valid.tolist() == sorted(expected_valid)
    assert train.tolist() == sorted(expected_train)


def test_holdout_split_stratifies_when_it_can():
    strata = np.repeat([0, 1, -1], [6, 6, 8])  # -1: rows without a finest label
    dataset = ArrayDataset(np.zeros((20, 2), np.float32), strata[:, None])
    train, valid = HoldoutSplit(0.3, random_state=0).parts(dataset)[:2]
    assert sorted(np.concatenate([train, valid]).tolist()) == list(range(20))
    assert np.bincount(strata[valid] + 1).tolist() == [2, 2, 2]


def test_rows_set_aside_are_apart_from_both_parts_and_stratified():
    # target_accuracy's threshold rows: set aside first, then the
    # validation rows drawn from the rest; each part holds every stratum.
    strata = np.repeat([0, 1, 2], [20, 20, 20])
    dataset = ArrayDataset(np.zeros((60, 2), np.float32), strata[:, None])
    split = HoldoutSplit(0.1, random_state=0, set_aside=0.2)
    assert split.n_held_out(60) == 6 + 12
    train, valid, aside = split.parts(dataset)
    assert (len(train), len(valid), len(aside)) == (42, 6, 12)
    assert sorted(np.concatenate([train, valid, aside]).tolist()) == list(range(60))
    assert np.bincount(strata[aside]).tolist() == [4, 4, 4]
    assert np.bincount(strata[valid]).tolist() == [2, 2, 2]
    # No validation fraction: the split trains on the rest and validates
    # nothing; the rows set aside do not move.
    alone = HoldoutSplit(None, random_state=0, set_aside=0.2)
    train_alone, valid_alone, aside_alone = alone.parts(dataset)
    assert valid_alone is None and aside_alone.tolist() == aside.tolist()
    fitted_rows, no_rows = alone(dataset)
    assert no_rows is None and len(fitted_rows) == 48
    assert alone.set_aside_indices_.tolist() == aside.tolist()

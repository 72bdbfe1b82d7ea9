"""The data and parameters of the data-parallel test (shared with its child
processes)."""

from _helpers import make_tree_data

PARAMS = dict(
    hidden_layer_sizes=(32,),
    max_epochs=12,
    early_stopping=True,
    patience=4,
    batch_size=64,
    random_state=0,
    n_threads=1,
)


def training_data():
    X, Y = make_tree_data(n_samples=1200, n_features=8, seed=3)
    return X[:900], Y[:900]


def held_out_data():
    X, Y = make_tree_data(n_samples=1200, n_features=8, seed=3)
    return X[900:], Y[900:]

"""Saving and loading fitted estimators: pickle, skops, and CUDA-less loading."""

import io
import json
import os
import pickle
import warnings
import zipfile

import numpy as np
import pytest
import torch
import torch.serialization
from _helpers import TINY_BUDGETS, make_tree_data, sub_codes, tiny_classifier
from skorch.exceptions import DeviceWarning

from mgclassifier import MultiGranularityClassifier

sio = pytest.importorskip("skops.io")
from skops.io.exceptions import UntrustedTypesFoundException  # noqa: E402

pytestmark = TINY_BUDGETS  # small models, few epochs, on purpose

# The types a skops file of a fitted MultiGranularityClassifier refers to, i.e.
# what a user has to pass as ``trusted`` (documented in the README):
# mgclassifier's own classes, skorch's net machinery and the torch optimizer
# class; no builtins or functools entries (print as a sink, skorch's
# set_params setters), which would let a file call arbitrary functions.
SKOPS_TRUSTED_TYPES = [
    "mgclassifier._network._callbacks.AdaptiveThreads",
    "mgclassifier._network._callbacks.BestEpochEarlyStopping",
    "mgclassifier._network._callbacks.DivergenceGuard",
    "mgclassifier._network._callbacks.LevelNamePrintLog",
    "mgclassifier._network._callbacks.OneCycleSchedule",
    "mgclassifier._data._batches.BatchIterator",
    "mgclassifier._data._batches.HoldoutSplit",
    "mgclassifier._estimator.MultiGranularityClassifier",
    "mgclassifier._hierarchy.LabelHierarchy",
    "mgclassifier._network._loss.MultiLevelLoss",
    "mgclassifier._network._module.MultiHeadMLP",
    "mgclassifier._network._net.MultiGranularityNet",
    "skorch.callbacks.logging.EpochTimer",
    "skorch.callbacks.scoring.PassthroughScoring",
    "skorch.dataset.Dataset",
    "skorch.history.History",
    "torch.optim.adam.Adam",
]
# Only used with early_stopping=True.
EARLY_STOPPING_TYPES = {
    "mgclassifier._data._batches.HoldoutSplit",
    "mgclassifier._network._callbacks.BestEpochEarlyStopping",
}


@pytest.fixture(scope="module")
def data():
    return make_tree_data(n_samples=120)


@pytest.fixture(scope="module")
def fitted_multi(data):
    """Two levels, early stopping, dropout on (so eval mode matters)."""
    X, Y = data
    return tiny_classifier(max_epochs=4, dropout=0.2).fit(X, Y)


@pytest.fixture(scope="module")
def fitted_1d(data):
    """A single level (1-D y), no early stopping."""
    X, Y = data
    return tiny_classifier(max_epochs=3, dropout=0.2, early_stopping=False).fit(
        X, Y[:, -1]
    )


@pytest.fixture(scope="module")
def fitted_averaged(data):
    """Weight averaging on: its callback is one more type to trust."""
    X, Y = data
    return tiny_classifier(max_epochs=4, weight_averaging=0.9).fit(X, Y)


@pytest.fixture(scope="module")
def fitted_repeated(data):
    """Labels that repeat under every parent: the hierarchy's label view."""
    X, Y = data
    return tiny_classifier(max_epochs=4).fit(X, sub_codes(Y))


@pytest.fixture(scope="module")
def fitted_custom(data):
    """A custom trunk (module=ResidualMLP, one tensor per level): the trunk's
    class joins the types to trust, TrunkWithHeads replaces MultiHeadMLP."""
    from mgclassifier.trunks import ResidualMLP

    X, Y = data
    return tiny_classifier(
        max_epochs=4, module=ResidualMLP, module__width=8, module__level_blocks=(0, 1)
    ).fit(X, Y)


@pytest.fixture(scope="module")
def fitted_grouped():
    """Batches of 512 rows: training shared dropout masks by groups of rows
    and kept gradient arrays in the module, which no saved file holds."""
    X, Y = make_tree_data(n_samples=600)
    clf = tiny_classifier(max_epochs=2, dropout=0.5, batch_size=512)
    clf.fit(X, Y)
    assert clf.net_.module_.__dict__["_kept_gradients"]._arrays  # the grouped step ran
    return clf


@pytest.fixture(scope="module")
def fitted_embedded(data):
    """Numeric embeddings: bin edges among the module's parameters, the
    embedding layer rebuilt from them on load."""
    X, Y = data
    return tiny_classifier(max_epochs=3, numeric_embeddings="piecewise_linear").fit(
        X, Y
    )


@pytest.fixture(scope="module")
def fitted_neighbors(data):
    """Neighbour votes: the training rows' features and paths are fitted
    arrays, the votes rebuilt from them on load."""
    X, Y = data
    return tiny_classifier(max_epochs=3, n_neighbors=5).fit(X, Y)


@pytest.fixture(
    params=[
        "multi",
        "1d",
        "averaged",
        "repeated",
        "custom",
        "grouped",
        "embedded",
        "neighbors",
    ]
)
def fitted(request):
    return request.getfixturevalue(f"fitted_{request.param}")


def expected_types(clf):
    types = set(SKOPS_TRUSTED_TYPES)
    if not clf.early_stopping:
        types -= EARLY_STOPPING_TYPES
    if clf.weight_averaging > 0:
        types.add("mgclassifier._network._callbacks.WeightAveraging")
    if clf.lr_schedule != "onecycle":
        types.discard("mgclassifier._network._callbacks.OneCycleSchedule")
    if clf.module is not None:  # a custom trunk class (documented in the README)
        types.discard("mgclassifier._network._module.MultiHeadMLP")
        types.add("mgclassifier._network._module.TrunkWithHeads")
        types.add(f"{clf.module.__module__}.{clf.module.__qualname__}")
    return sorted(types)


def assert_same_model(loaded, original, X):
    assert type(loaded) is type(original)
    assert loaded.get_params() == original.get_params()
    p_loaded, p_original = loaded.predict_proba(X), original.predict_proba(X)
    if isinstance(p_original, list):
        assert len(p_loaded) == len(p_original)
        for a, b in zip(p_loaded, p_original):
            np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_array_equal(p_loaded, p_original)
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))
    if isinstance(original.classes_, list):
        for a, b in zip(loaded.classes_, original.classes_):
            np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_array_equal(loaded.classes_, original.classes_)
    assert loaded.n_levels_ == original.n_levels_
    assert loaded.best_epoch_ == original.best_epoch_
    assert loaded.n_epochs_ == original.n_epochs_
    assert list(loaded.history_) == list(original.history_)
    assert not loaded.net_.module_.training  # dropout stays off
    assert all(p.device.type == "cpu" for p in loaded.net_.module_.parameters())


# --------------------------------------------------------------------- pickle
def test_pickle_round_trip(fitted, data):
    X, _ = data
    loaded = pickle.loads(pickle.dumps(fitted))
    assert_same_model(loaded, fitted, X)


@pytest.mark.parametrize("fmt", ["pickle", "skops"])
def test_training_resumes_identically_after_loading(fitted_multi, data, fmt):
    # The optimizer state (Adam's moments) is saved too: partial_fit on the
    # loaded model continues exactly as it would have on the original.
    X, Y = data
    reference = MultiGranularityClassifier(**fitted_multi.get_params()).fit(X, Y)
    loaded = _load(_dump(fitted_multi, fmt), fmt, expected_types(fitted_multi))
    reference.partial_fit(X, Y)
    loaded.partial_fit(X, Y)
    for a, b in zip(loaded.predict_proba(X), reference.predict_proba(X)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fmt", ["pickle", "skops"])
def test_set_params_reaches_the_optimizer_after_loading(fitted_multi, fmt):
    # skorch's setters are left out of a saved model and rebuilt on load.
    loaded = _load(_dump(fitted_multi, fmt), fmt, expected_types(fitted_multi))
    loaded.net_.set_params(lr=0.125)
    assert loaded.net_.optimizer_.param_groups[0]["lr"] == 0.125


# ---------------------------------------------------------------------- skops
def test_skops_untrusted_types_are_the_documented_ones(fitted, tmp_path):
    path = tmp_path / "model.skops"
    sio.dump(fitted, path)
    assert sio.get_untrusted_types(file=path) == expected_types(fitted)


def test_skops_round_trip(fitted, data, tmp_path):
    X, _ = data
    path = tmp_path / "model.skops"
    sio.dump(fitted, path)
    loaded = sio.load(path, trusted=expected_types(fitted))
    assert_same_model(loaded, fitted, X)
    # In memory too.
    loaded = sio.loads(sio.dumps(fitted), trusted=expected_types(fitted))
    assert_same_model(loaded, fitted, X)


def test_skops_refuses_untrusted_types(fitted_multi, tmp_path):
    path = tmp_path / "model.skops"
    sio.dump(fitted_multi, path)
    with pytest.raises(UntrustedTypesFoundException):
        sio.load(path)
    with pytest.raises(UntrustedTypesFoundException):
        sio.load(path, trusted=expected_types(fitted_multi)[1:])


def _opaque_members(archive):
    """Members of a skops archive that are neither the schema nor .npy arrays."""
    return [
        name
        for name in archive.namelist()
        if name != "schema.json" and not name.endswith(".npy")
    ]


def test_skops_archive_holds_only_schema_and_arrays(fitted_multi, tmp_path):
    path = tmp_path / "model.skops"
    sio.dump(fitted_multi, path)
    with zipfile.ZipFile(path) as archive:
        assert _opaque_members(archive) == []


class _Payload:
    """Pickles to a call of ``exec``: what a malicious file would carry."""

    def __reduce__(self):
        code = "import os; os.environ['MGCLASSIFIER_TEST_PAYLOAD'] = 'ran'"
        return (exec, (code,))


def _payload_npy():
    """A .npy file holding an object array whose element is the payload:
    ``np.load(..., allow_pickle=True)`` would unpickle it and run the code."""
    buffer = io.BytesIO()
    array = np.empty(1, dtype=object)
    array[0] = _Payload()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _member_of_key(node, key):
    """The archive member that stores the array under dict key ``key``."""
    if isinstance(node, dict):
        content = node.get("content")
        if isinstance(content, dict) and isinstance(content.get(key), dict):
            if "file" in content[key]:
                return content[key]["file"]
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _member_of_key(child, key)
        if found is not None:
            return found
    return None


def test_payload_runs_when_unpickled(monkeypatch):
    # Control for the test below: the planted member does run code when
    # loaded the unsafe way.
    monkeypatch.setenv("MGCLASSIFIER_TEST_PAYLOAD", "not run")
    np.load(io.BytesIO(_payload_npy()), allow_pickle=True)
    assert os.environ["MGCLASSIFIER_TEST_PAYLOAD"] == "ran"


def test_skops_load_runs_no_code_hidden_in_the_file(
    fitted_multi, tmp_path, monkeypatch
):
    # Replace the .npy member holding the heads' weights by an object array
    # that unpickles to a code call, then load with the documented trust
    # list: loading must refuse the member without running it.
    monkeypatch.setenv("MGCLASSIFIER_TEST_PAYLOAD", "not run")
    path, evil = tmp_path / "model.skops", tmp_path / "tampered.skops"
    sio.dump(fitted_multi, path)
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(evil, "w") as dst:
        target = _member_of_key(json.loads(src.read("schema.json")), "heads.weight")
        assert target is not None and target.endswith(".npy")
        for info in src.infolist():
            content = src.read(info)
            dst.writestr(info, _payload_npy() if info.filename == target else content)
    with zipfile.ZipFile(evil) as archive:
        assert archive.read(target) == _payload_npy()
    # The tampering is invisible to the trust check...
    assert sio.get_untrusted_types(file=evil) == expected_types(fitted_multi)
    # ...but the array is read without pickle: loading fails, nothing runs.
    with pytest.raises(ValueError, match="allow_pickle=False"):
        sio.load(evil, trusted=expected_types(fitted_multi))
    assert os.environ["MGCLASSIFIER_TEST_PAYLOAD"] == "not run"


# ------------------------------------------------ a CUDA model on a CPU machine
def _as_if_trained_on_cuda(clf):
    """A copy of ``clf`` whose net says it lives on CUDA (tensors stay on CPU)."""
    copy = pickle.loads(pickle.dumps(clf))
    copy.set_params(device="cuda")
    copy.net_.device = "cuda"
    return copy


def _dump(obj, fmt):
    return pickle.dumps(obj) if fmt == "pickle" else sio.dumps(obj)


def _load(blob, fmt, trusted):
    return pickle.loads(blob) if fmt == "pickle" else sio.loads(blob, trusted=trusted)


def test_cuda_tag_simulation_is_effective(monkeypatch):
    # Control for the test below: a tensor saved with the "cuda:0" location tag
    # cannot be unpickled on a machine without CUDA unless it is remapped.
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        blob = pickle.dumps(torch.zeros(2))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA"):
        pickle.loads(blob)


def _load_as_cuda_model_without_cuda(clf, fmt, monkeypatch):
    """Save ``clf`` as if trained on CUDA; load it where CUDA is missing."""
    cuda_clf = _as_if_trained_on_cuda(clf)
    with monkeypatch.context() as m:
        # Tag every tensor storage as CUDA, as torch does for GPU tensors.
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        blob = _dump(cuda_clf, fmt)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning) as record:
        loaded = _load(blob, fmt, expected_types(clf))
    assert any("no CUDA devices are available" in str(w.message) for w in record)
    return loaded


@pytest.mark.parametrize("fmt", ["pickle", "skops"])
def test_cuda_model_loads_and_predicts_without_cuda(fitted, data, fmt, monkeypatch):
    X, _ = data
    loaded = _load_as_cuda_model_without_cuda(fitted, fmt, monkeypatch)
    assert torch.device(loaded.net_.device) == torch.device("cpu")
    assert loaded.device == "cuda"  # the hyper-parameter is left as it was
    loaded.set_params(device="cpu")  # now only the net's device string differs
    assert_same_model(loaded, fitted, X)
    # Pickling it again is clean: it now lives on the CPU.
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeviceWarning)
        again = pickle.loads(pickle.dumps(loaded))
    assert_same_model(again, fitted, X)


def test_cuda_model_loaded_on_cpu_saves_to_skops_with_same_trust(
    fitted, data, tmp_path, monkeypatch
):
    X, _ = data
    loaded = _load_as_cuda_model_without_cuda(fitted, "skops", monkeypatch)
    assert loaded.net_.device == "cpu"
    path = tmp_path / "model.skops"
    sio.dump(loaded, path)
    assert sio.get_untrusted_types(file=path) == expected_types(fitted)
    again = sio.load(path, trusted=expected_types(fitted))
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))

"""mgclassifier.plotting: history, per-level confusion and reliability displays."""

import importlib
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from _helpers import TINY_BUDGETS, make_tree_data  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from mgclassifier import MultiGranularityClassifier  # noqa: E402
from mgclassifier.metrics import expected_calibration_error_per_level  # noqa: E402
from mgclassifier.plotting import (  # noqa: E402
    LevelConfusionMatrixDisplay,
    ReliabilityDiagramDisplay,
    TrainingHistoryDisplay,
)

pytestmark = TINY_BUDGETS  # small models, few epochs, on purpose

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    return make_tree_data(n_samples=150)


@pytest.fixture(scope="module")
def fitted(data):
    """Two levels, early stopping (so there are validation curves)."""
    X, Y = data
    return MultiGranularityClassifier(
        hidden_layer_sizes=(16,),
        early_stopping=True,
        max_epochs=8,
        batch_size=32,
        patience=3,
        lr=0.01,
        random_state=0,
    ).fit(X, Y)


@pytest.fixture(scope="module")
def fitted_1d(data):
    """A single level without early stopping (no validation curves)."""
    X, Y = data
    return MultiGranularityClassifier(
        hidden_layer_sizes=(16,),
        max_epochs=4,
        batch_size=32,
        early_stopping=False,
        lr=0.01,
        random_state=0,
    ).fit(X, Y[:, -1])


def _column(history, key):
    return np.array([row[key] for row in history])


# ----------------------------------------------------------- TrainingHistory
def test_history_display_from_estimator(fitted, tmp_path):
    disp = TrainingHistoryDisplay.from_estimator(fitted)
    assert isinstance(disp, TrainingHistoryDisplay)
    assert disp.figure_.axes == [disp.ax_]  # one axis, one colour per level
    # Train + validation curve per level, plus the best-epoch marker.
    assert len(disp.train_lines_) == len(disp.valid_lines_) == 2
    assert len(disp.ax_.get_lines()) == 2 * 2 + 1
    epochs = _column(fitted.history_, "epoch")
    np.testing.assert_array_equal(disp.epochs_, epochs)
    for level in range(2):
        train, valid = disp.train_lines_[level], disp.valid_lines_[level]
        np.testing.assert_array_equal(train.get_xdata(), epochs)
        np.testing.assert_allclose(
            train.get_ydata(), _column(fitted.history_, f"train_loss_level_{level}")
        )
        np.testing.assert_allclose(
            valid.get_ydata(), _column(fitted.history_, f"valid_loss_level_{level}")
        )
        assert train.get_color() == valid.get_color()  # colour = level
        assert train.get_linestyle() == "-" and valid.get_linestyle() == "--"
    assert train.get_color() != disp.train_lines_[0].get_color()
    marker = disp.best_epoch_line_
    assert marker in disp.ax_.get_lines()
    assert list(marker.get_xdata()) == [fitted.best_epoch_] * 2
    assert disp.ax_.get_xlabel() == "Epoch"
    assert "Loss" in disp.ax_.get_ylabel()
    assert disp.ax_.get_title() == "Training history"
    legend = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert legend == [
        "level 0 (train)",
        "level 1 (train)",
        "level 0 (valid)",
        "level 1 (valid)",
        f"best epoch ({fitted.best_epoch_})",
    ]
    path = tmp_path / "history.png"
    disp.figure_.savefig(path)
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_history_display_marker_at_best_epoch_not_last():
    history = [
        {"epoch": e, "train_loss_level_0": 1 / e, "valid_loss_level_0": abs(e - 2)}
        for e in range(1, 6)
    ]
    disp = TrainingHistoryDisplay(history, best_epoch=2, level_names=["fine"]).plot()
    assert list(disp.best_epoch_line_.get_xdata()) == [2, 2]
    assert disp.train_lines_[0].get_label() == "fine (train)"
    assert disp.valid_lines_[0].get_label() == "fine (valid)"


def test_history_display_without_validation_or_marker(fitted_1d):
    disp = TrainingHistoryDisplay.from_estimator(fitted_1d, level_names=["leaf"])
    assert disp.valid_lines_ == [None]
    assert len(disp.ax_.get_lines()) == 1 + 1  # training curve + marker
    assert list(disp.best_epoch_line_.get_xdata())[0] == fitted_1d.n_epochs_

    disp = TrainingHistoryDisplay(fitted_1d.history_).plot()
    assert disp.best_epoch_line_ is None
    assert len(disp.ax_.get_lines()) == 1


def test_history_display_on_given_axis_with_options(fitted):
    fig, (ax1, ax2) = plt.subplots(1, 2)
    disp = TrainingHistoryDisplay.from_estimator(
        fitted, ax=ax2, log_scale=True, legend=False, level_names=["c", "f"]
    )
    assert disp.ax_ is ax2 and disp.figure_ is fig
    assert ax1.get_lines() == []
    assert ax2.get_yscale() == "log"
    assert ax2.get_legend() is None


def test_history_display_draws_only_the_recorded_losses(fitted):
    # Each curve is a key the estimator records in history_; other keys
    # (accuracies a user's callback might add) get no curve and no axis.
    history = [
        {**row, "train_acc_level_0": 0.5, "valid_acc_level_1": 0.5}
        for row in fitted.history_
    ]
    disp = TrainingHistoryDisplay(history, level_names=["c", "f"]).plot()
    assert disp.figure_.axes == [disp.ax_]
    assert not hasattr(disp, "acc_lines_")
    curves = {line.get_label(): line.get_ydata() for line in disp.ax_.get_lines()}
    assert curves.keys() == {"c (train)", "f (train)", "c (valid)", "f (valid)"}
    for subset in ("train", "valid"):
        for level, name in enumerate("cf"):
            np.testing.assert_array_equal(
                curves[f"{name} ({subset})"],
                fitted.history_[:, f"{subset}_loss_level_{level}"],
            )


def test_history_display_total_loss_fallback_and_non_finite():
    # A plain skorch history has no per-level keys; a diverged epoch has inf.
    history = [
        {"epoch": 1, "train_loss": 1.0, "valid_loss": 1.1},
        {"epoch": 2, "train_loss": np.inf, "valid_loss": np.nan},
    ]
    disp = TrainingHistoryDisplay(history).plot()
    assert len(disp.train_lines_) == len(disp.valid_lines_) == 1
    np.testing.assert_array_equal(disp.train_lines_[0].get_ydata(), [1.0, np.nan])


def test_history_display_errors(fitted):
    with pytest.raises(ValueError, match="level_names has 1 names"):
        TrainingHistoryDisplay.from_estimator(fitted, level_names=["only one"])
    with pytest.raises(ValueError, match="empty"):
        TrainingHistoryDisplay([]).plot()
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TrainingHistoryDisplay.from_estimator(MultiGranularityClassifier())


# ------------------------------------------------------------ ConfusionMatrix
@pytest.mark.parametrize("level", [0, 1, -1])
def test_confusion_from_estimator_matches_sklearn(fitted, data, level, tmp_path):
    X, Y = data
    Y_pred = fitted.predict(X)
    disp = LevelConfusionMatrixDisplay.from_estimator(fitted, X, Y, level=level)
    expected = confusion_matrix(
        Y[:, level], Y_pred[:, level], labels=fitted.classes_[level]
    )
    np.testing.assert_array_equal(disp.confusion_matrix, expected)
    n_classes = len(fitted.classes_[level])
    assert disp.confusion_matrix.sum() == len(X)
    assert disp.text_.shape == (n_classes, n_classes)
    assert disp.text_[0, 0].get_text() == str(expected[0, 0])
    np.testing.assert_array_equal(disp.display_labels, fitted.classes_[level])
    tick_labels = [t.get_text() for t in disp.ax_.get_xticklabels()]
    assert tick_labels == list(fitted.classes_[level])
    assert disp.ax_.get_title() == f"Level {level % 2}"
    assert disp.ax_.get_xlabel() == "Predicted label"
    assert disp.ax_.get_ylabel() == "True label"
    assert len(disp.figure_.axes) == 2  # the matrix and its colorbar
    path = tmp_path / "confusion.png"
    disp.figure_.savefig(path)
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_confusion_normalize_and_plot_options(fitted, data):
    X, Y = data
    fig, ax = plt.subplots()
    disp = LevelConfusionMatrixDisplay.from_estimator(
        fitted,
        X,
        Y,
        level=0,
        normalize="true",
        ax=ax,
        colorbar=False,
        include_values=False,
        level_name="coarse",
    )
    assert disp.ax_ is ax and disp.figure_ is fig
    assert fig.axes == [ax]
    assert disp.text_ is None
    assert disp.ax_.get_title() == "coarse"
    np.testing.assert_allclose(disp.confusion_matrix.sum(axis=1), 1.0)
    expected = confusion_matrix(
        Y[:, 0], fitted.predict(X)[:, 0], labels=fitted.classes_[0], normalize="true"
    )
    np.testing.assert_allclose(disp.confusion_matrix, expected)


def test_confusion_single_level_estimator(fitted_1d, data):
    X, Y = data
    disp = LevelConfusionMatrixDisplay.from_estimator(fitted_1d, X, Y[:, -1])
    expected = confusion_matrix(
        Y[:, -1], fitted_1d.predict(X), labels=fitted_1d.classes_
    )
    np.testing.assert_array_equal(disp.confusion_matrix, expected)
    assert disp.ax_.get_title() == "Level 0"
    with pytest.raises(ValueError, match="out of range"):
        LevelConfusionMatrixDisplay.from_estimator(fitted_1d, X, Y[:, -1], level=1)


def test_confusion_label_unknown_to_estimator_is_kept(fitted, data):
    X, Y = data
    Y = Y.astype(object)
    Y[0, 1] = "9/9"  # a fine label the estimator never saw
    disp = LevelConfusionMatrixDisplay.from_estimator(fitted, X, Y, level=1)
    assert list(disp.display_labels) == sorted([*fitted.classes_[1], "9/9"])
    assert disp.confusion_matrix.sum() == len(X)
    assert disp.confusion_matrix[-1].sum() == 1  # the "9/9" row


def shop_pipeline():
    """A Pipeline whose classifier cannot read the raw frame (a text column)."""
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return make_pipeline(
        make_column_transformer(
            (OneHotEncoder(), ["shop"]), remainder=StandardScaler()
        ),
        MultiGranularityClassifier(
            hidden_layer_sizes=(16,), max_epochs=2, batch_size=32, random_state=0
        ),
    )


def shop_data(data):
    pd = pytest.importorskip("pandas")
    X, Y = data
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    X["shop"] = np.where(np.arange(len(X)) % 2, "north", "south")
    return X, pd.DataFrame(Y, columns=["family", "genus"])


def shop_estimator(data, pipeline):
    """``(estimator, X, Y)``: the shop Pipeline fitted on the shop frame, or
    its classifier fitted on the frame without its text column."""
    X, Y = shop_data(data)
    if pipeline:
        return shop_pipeline().fit(X, Y), X, Y
    X = X.drop(columns="shop")
    return shop_pipeline()[-1].fit(X, Y), X, Y


@pytest.mark.parametrize("pipeline", [False, True], ids=["classifier", "pipeline"])
def test_displays_use_the_estimators_level_names(data, pipeline):
    # A fitted Pipeline ending in the classifier is accepted everywhere: its
    # own predict/predict_proba run the preprocessing, the names and history
    # come from its last step.
    estimator, X, Y = shop_estimator(data, pipeline)
    disp = TrainingHistoryDisplay.from_estimator(estimator)
    assert [line.get_label() for line in disp.train_lines_] == [
        "family (train)",
        "genus (train)",
    ]
    classifier = estimator[-1] if pipeline else estimator
    assert disp.best_epoch_line_.get_xdata()[0] == classifier.best_epoch_
    disp = LevelConfusionMatrixDisplay.from_estimator(estimator, X, Y, level=0)
    assert disp.ax_.get_title() == "family"
    np.testing.assert_array_equal(
        disp.confusion_matrix, confusion_matrix(Y["family"], estimator.predict(X)[:, 0])
    )
    disp = LevelConfusionMatrixDisplay.from_estimator(
        estimator, X, Y, level=-1, level_name="species?"
    )
    assert disp.ax_.get_title() == "species?"
    disp = ReliabilityDiagramDisplay.from_estimator(estimator, X, Y)
    assert [line.get_label().split(" (")[0] for line in disp.lines_] == [
        "family",
        "genus",
    ]


def test_predict_node_proba_through_a_pipeline(data):
    from mgclassifier import predict_node_proba

    X, Y = shop_data(data)
    pipe = shop_pipeline().fit(X, Y)
    assert not hasattr(pipe, "predict_node_proba")  # Pipeline does not forward it
    direct = pipe[-1].predict_node_proba(pipe[:-1].transform(X))
    for a, b in zip(predict_node_proba(pipe, X), direct):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(predict_node_proba(pipe[-1], pipe[:-1].transform(X)), direct):
        np.testing.assert_array_equal(a, b)


def test_choose_threshold_through_a_pipeline(data):
    from mgclassifier import choose_threshold

    X, Y = shop_data(data)
    pipe = shop_pipeline().fit(X[:100], Y[:100])
    assert not hasattr(pipe, "choose_threshold")  # Pipeline does not forward it
    with pytest.raises(ValueError, match="target_accuracy, which is None"):
        choose_threshold(pipe, X[100:], Y[100:])
    pipe.set_params(multigranularityclassifier__target_accuracy=0.6)
    assert choose_threshold(pipe, X[100:], Y[100:]) is pipe
    chosen = pipe[-1].path_threshold_, pipe[-1].held_out_coverage_
    assert chosen[1]["rows"] == len(X) - 100
    # The same as the classifier's own method on the transformed rows.
    direct = choose_threshold(pipe[-1], pipe[:-1].transform(X[100:]), Y[100:])
    assert direct is pipe[-1]
    assert (direct.path_threshold_, direct.held_out_coverage_) == chosen
    assert pipe.predict(X).shape == Y.shape


@pytest.mark.parametrize("pipeline", [False, True], ids=["classifier", "pipeline"])
def test_levels_may_be_named(data, pipeline):
    # Wherever a display takes a level, it takes the level's name too:
    # the estimator's level_names_, or the columns of a DataFrame y.
    estimator, X, Y = shop_estimator(data, pipeline)
    for name, index in (("family", 0), ("genus", 1)):
        by_name = LevelConfusionMatrixDisplay.from_estimator(
            estimator, X, Y, level=name
        )
        by_index = LevelConfusionMatrixDisplay.from_estimator(
            estimator, X, Y.to_numpy(), level=index
        )
        np.testing.assert_array_equal(
            by_name.confusion_matrix, by_index.confusion_matrix
        )
        assert by_name.ax_.get_title() == by_index.ax_.get_title() == name
        assert by_name.level == index
    disp = ReliabilityDiagramDisplay.from_estimator(estimator, X, Y, levels=["genus"])
    assert disp.levels == [1] and disp.lines_[0].get_label().startswith("genus (")
    for level in ("species", "Genus"):
        with pytest.raises(ValueError) as error:
            LevelConfusionMatrixDisplay.from_estimator(estimator, X, Y, level=level)
        assert str(error.value) == (
            f"level={level!r} is not a level of the estimator; its levels are "
            f"['family', 'genus']."
        )
        with pytest.raises(ValueError, match=r"its levels are \['family', 'genus'\]"):
            ReliabilityDiagramDisplay.from_estimator(estimator, X, Y, levels=[level])
    with pytest.raises(TypeError, match="level must be an int .* or a level name"):
        LevelConfusionMatrixDisplay.from_estimator(estimator, X, Y, level=1.0)


def test_level_names_in_from_predictions(fitted, data):
    pd = pytest.importorskip("pandas")
    X, Y = data
    y_true = pd.DataFrame(Y, columns=["family", "genus"])
    y_pred = fitted.predict(X)  # no names of its own: y_true's columns name them
    disp = LevelConfusionMatrixDisplay.from_predictions(y_true, y_pred, level="genus")
    np.testing.assert_array_equal(
        disp.confusion_matrix, confusion_matrix(Y[:, 1], y_pred[:, 1])
    )
    assert disp.ax_.get_title() == "genus" and disp.level == 1
    proba = fitted.predict_proba(X)
    disp = ReliabilityDiagramDisplay.from_predictions(
        y_true, proba, fitted.classes_, levels=["genus", "family"]
    )
    assert disp.levels == [1, 0]
    disp = ReliabilityDiagramDisplay.from_predictions(
        Y, proba, fitted.classes_, levels=["fine"], level_names=["coarse", "fine"]
    )
    assert disp.levels == [1]
    # An estimator fitted on an array: the columns of a DataFrame y name them.
    disp = LevelConfusionMatrixDisplay.from_estimator(fitted, X, y_true, level="genus")
    assert disp.level == 1 and disp.ax_.get_title() == "genus"
    with pytest.raises(ValueError, match="known for the estimator or y") as error:
        LevelConfusionMatrixDisplay.from_estimator(fitted, X, Y, level="genus")
    assert "0 (coarsest) to 1 or -1 (finest)" in str(error.value)
    with pytest.raises(ValueError, match="not a level of the estimator or y; its"):
        LevelConfusionMatrixDisplay.from_estimator(fitted, X, y_true, level="x")
    with pytest.raises(ValueError, match="known for y_true"):
        LevelConfusionMatrixDisplay.from_predictions(Y, y_pred, level="genus")
    with pytest.raises(ValueError, match="known for y_true"):
        ReliabilityDiagramDisplay.from_predictions(
            Y, proba, fitted.classes_, levels=["genus"]
        )


def test_confusion_from_predictions():
    y_true = [["a", "a/1"], ["a", "a/2"], ["b", "b/1"], ["b", ""]]
    y_pred = [["a", "a/1"], ["a", "a/1"], ["b", "b/1"], ["a", "a/2"]]
    disp = LevelConfusionMatrixDisplay.from_predictions(y_true, y_pred, level=0)
    np.testing.assert_array_equal(disp.confusion_matrix, [[2, 0], [1, 1]])
    # The missing fine label of the last row leaves it out of level 1.
    disp = LevelConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=["a/1", "a/2", "b/1"], sample_weight=[1, 2, 3, 4]
    )
    np.testing.assert_array_equal(
        disp.confusion_matrix, [[1, 0, 0], [2, 0, 0], [0, 0, 3]]
    )
    assert disp.ax_.get_title() == "Level 1"
    with pytest.raises(ValueError, match="different numbers of samples"):
        LevelConfusionMatrixDisplay.from_predictions(y_true, y_pred[:3])


def test_display_constructor_and_plot():
    disp = LevelConfusionMatrixDisplay(
        np.array([[3, 1], [0, 2]]), display_labels=["x", "y"], level=2
    )
    assert disp.plot() is disp
    assert disp.ax_.get_title() == "Level 2"


def _bins_by_hand(labels, proba, classes, n_bins):
    """Mean confidence, accuracy and count of each non-empty bin, by a loop."""
    confidence = proba.max(axis=1)
    correct = np.asarray(classes)[proba.argmax(axis=1)] == labels
    index = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    rows = [
        (confidence[index == b].mean(), correct[index == b].mean(), (index == b).sum())
        for b in range(n_bins)
        if (index == b).any()
    ]
    return [np.array(column) for column in zip(*rows)]


def test_reliability_from_estimator_matches_the_metric(fitted, data, tmp_path):
    X, Y = data
    disp = ReliabilityDiagramDisplay.from_estimator(fitted, X, Y, n_bins=10)
    probas = fitted.predict_proba(X)
    ece = expected_calibration_error_per_level(Y, probas, fitted.classes_, n_bins=10)
    np.testing.assert_allclose(disp.ece, ece)
    assert len(disp.lines_) == 2
    assert [line.get_label() for line in disp.lines_] == [
        f"level {level} (ECE {value:.3f})" for level, value in enumerate(ece)
    ]
    for level in range(2):
        confidence, accuracy, counts = _bins_by_hand(
            Y[:, level], probas[level], fitted.classes_[level], 10
        )
        np.testing.assert_allclose(disp.confidence[level], confidence)
        np.testing.assert_allclose(disp.accuracy[level], accuracy)
        np.testing.assert_array_equal(disp.counts[level], counts)
        np.testing.assert_allclose(disp.lines_[level].get_xdata(), confidence)
        np.testing.assert_allclose(disp.lines_[level].get_ydata(), accuracy)
        assert counts.sum() == len(X)
    np.testing.assert_array_equal(disp.reference_line_.get_xdata(), [0, 1])
    assert disp.ax_.get_xlim() == (0, 1) and disp.ax_.get_ylabel() == "Accuracy"
    path = tmp_path / "reliability.png"
    disp.figure_.savefig(path)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_reliability_levels_names_and_options(fitted, fitted_1d, data):
    X, Y = data
    fig, ax = plt.subplots()
    disp = ReliabilityDiagramDisplay.from_estimator(
        fitted,
        X,
        Y,
        levels=[-1],
        level_names=["family", "genus"],
        ax=ax,
        ref_line=False,
        legend=False,
    )
    assert disp.ax_ is ax and disp.figure_ is fig
    assert disp.levels == [1] and disp.reference_line_ is None
    assert [line.get_label() for line in disp.lines_] == [
        f"genus (ECE {disp.ece[0]:.3f})"
    ]
    assert ax.get_legend() is None
    assert disp.lines_[0].get_color() == "C1"  # the level keeps its colour
    single = ReliabilityDiagramDisplay.from_estimator(fitted_1d, X, Y[:, -1])
    assert len(single.lines_) == 1 and single.counts[0].sum() == len(X)
    with pytest.raises(ValueError, match="level 2 is out of range"):
        ReliabilityDiagramDisplay.from_estimator(fitted, X, Y, levels=[2])
    with pytest.raises(ValueError, match="level_names has 1 names"):
        ReliabilityDiagramDisplay.from_estimator(fitted, X, Y, level_names=["x"])


def test_reliability_from_predictions_leaves_out_short_paths():
    y_true = [["a", "a1"], ["b", None], ["b", "b1"]]
    proba = [
        np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8]]),
        np.array([[0.8, 0.2], [0.1, 0.9], [0.6, 0.4]]),
    ]
    disp = ReliabilityDiagramDisplay.from_predictions(
        y_true, proba, [["a", "b"], ["a1", "b1"]], n_bins=2
    )
    assert [c.sum() for c in disp.counts] == [3, 2]
    np.testing.assert_allclose(disp.confidence[1], [0.7])  # (0.8 + 0.6) / 2
    np.testing.assert_allclose(disp.accuracy[1], [0.5])  # a1 right, b1 wrong
    assert disp.ece[1] == pytest.approx(0.2)


def test_module_imports_without_matplotlib(monkeypatch):
    import mgclassifier.plotting as plotting

    try:
        with monkeypatch.context() as m:
            m.setitem(sys.modules, "matplotlib", None)  # "import matplotlib" fails
            reloaded = importlib.reload(plotting)
            with pytest.raises(ImportError, match="requires matplotlib"):
                reloaded.TrainingHistoryDisplay([{"epoch": 1}]).plot()
            with pytest.raises(ImportError, match="requires matplotlib"):
                reloaded.LevelConfusionMatrixDisplay.from_predictions([0, 1], [0, 1])
            with pytest.raises(ImportError, match="requires matplotlib"):
                reloaded.ReliabilityDiagramDisplay.from_predictions(
                    [0, 1], np.eye(2), [0, 1]
                )
    finally:
        importlib.reload(plotting)


def test_verbose_prints_the_level_names_and_keeps_the_history_keys(data, capsys):
    import pandas as pd

    X, Y = data
    clf = MultiGranularityClassifier(
        hidden_layer_sizes=(8,),
        max_epochs=2,
        batch_size=32,
        early_stopping=True,  # validation columns too
        verbose=1,
    ).fit(X, pd.DataFrame(Y, columns=["family", "species"]))
    printed = capsys.readouterr().out
    for column in ("train_loss_family", "train_loss_species", "valid_loss_family"):
        assert column in printed
    assert "loss_level_" not in printed
    assert {"train_loss_level_0", "valid_loss_level_1"} <= set(clf.history_[-1])
    # Without names the printed columns are the history's.
    clf.set_params(verbose=1).fit(X, Y)
    assert "train_loss_level_1" in capsys.readouterr().out

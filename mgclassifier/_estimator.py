"""MultiGranularityClassifier: parameters, validation, fit, predict."""

import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ._config import (
    ACTIVATIONS,
    check_fit_params,
    check_module_param_name,
    check_resumable,
    check_selective_params,
    network_structure,
    prediction_threshold,
    resolve_config,
    selective_target,
)
from ._cpu_threads import in_torch_threads, torch_threads
from ._data._validation import (
    level_names_of,
    validate_fit_data,
    validate_for_prediction,
    validate_labelled_rows,
)
from ._devices import process_count
from ._hierarchy import LabelHierarchy, hierarchy_findings
from ._metric_parts import _drop_rows_without_finest_label, _path_correct
from ._prediction._calibration import held_out_threshold
from ._prediction._neighbors import NeighborVotes
from ._prediction._predict import Predictor, predict_leaves, predict_proba, proba_dtype
from ._training._train import train
from ._upstream import Interval, StrOptions, _fit_context
from ._warnings import HierarchyWarning, warn_at_caller


class MultiGranularityClassifier(ClassifierMixin, BaseEstimator):
    """Neural classifier that learns every level of a label hierarchy at once.

    One network with a shared MLP trunk and one classification head per
    granularity (coarse to fine) is trained on all levels together, so the
    coarse labels act as extra supervision for the fine ones. Predictions are
    decoded jointly over root-to-leaf paths: a predicted row is always a path
    that exists in the hierarchy seen in ``fit`` (or, with
    ``min_path_probability``, the part of it the model is sure of). A label
    may appear under several parents ("Accessories" under "Clothing" and
    under "Electronics"): each such path is its own node of the network.
    Training runs through skorch; flat float inputs are standardised inside
    the network. The trunk may be any torch module (``module``).

    Parameters
    ----------
    hidden_layer_sizes : array-like of int or "auto", default="auto"
        Width of each hidden layer of the shared trunk, positive integers;
        empty for a linear model with one head per level. "auto" is one layer
        of 1024 units, or of 512 for a sparse ``X``; for an ensemble
        (``n_members`` > 1) on dense input, two layers of 512. The value used
        is ``hidden_layer_sizes_``.
    activation : {"relu", "tanh", "logistic", "gelu"}, default="relu"
        Nonlinearity after each hidden layer of the built-in trunk.
    alpha_l1 : float, default=0.0
        L1 penalty on the weight matrices, added to each batch's loss; 0 or
        more, 0 turns it off.
    alpha_l2 : float, default=1e-4
        L2 penalty on the weight matrices (Adam's ``weight_decay``; biases are
        not penalised); 0 or more, 0 turns it off.
    dropout : float or "auto", default="auto"
        Dropout probability after each trunk layer, in [0, 1). "auto" is 0.6
        for one network, 0.3 for an ensemble (``n_members`` > 1) on dense
        input, whose members' averaging regularises too. The value used is
        ``dropout_``. In CPU training of one network on dense input, a batch
        of 128 rows or more shares the last ReLU layer's masks by groups of
        64 rows or a few more (at least four groups), and only the kept units
        are computed, in that layer and in the heads: the same accuracy in
        less time.
    n_members : int, default=1
        Train an efficient ensemble of this many members in one pass, 1 or
        more (TabM, Gorishniy et al., ICLR 2025): the members share the
        trunk's weight matrices (BatchEnsemble layers: each member scales
        every layer's inputs and outputs its own way and has its own biases,
        the first layer's input scalings starting as random signs) and have
        heads of their own; they see the same batches, each is trained on
        its own loss, and the validation loss of early stopping is the
        ensemble's. ``predict_proba`` averages the members' path
        probabilities before the hierarchy's sums, ``predict`` takes the
        best path of that average. With ``hidden_layer_sizes="auto"`` each
        member of an ensemble on dense input has two layers of 512 units.
        Built-in trunk only (``module=None``); a fit costs about as much as
        ``n_members`` networks of the members' size would, less than as
        many separate fits (one pass over the data, products batched over
        the members). 1: one network.
    level_weights : array-like of shape (n_levels,), "auxiliary", "equal" or \
            None, default="auxiliary"
        Loss weight of each level, coarse to fine. "auxiliary" gives the
        finest level weight 1 and every coarser level 0.25: the coarse labels
        then act as auxiliary supervision of the shared trunk. "equal" or
        None weigh every level 1. An array gives one finite, non-negative
        weight per level, not all zero.
    level_weight_schedule : dict of {int: array-like}, default=None
        Change the training loss's level weights at given epochs, e.g.
        ``{1: [0.98, 0.01, 0.01], 10: [0.1, 0.8, 0.1], 20: [0, 0, 1]}`` (the
        "branch training strategy" of B-CNN, Zhu & Bain 2017): from epoch
        ``k`` on (1-based) the weights ``schedule[k]`` apply. Keys are ints
        of 1 or more; each value is a weight vector as ``level_weights``
        takes. None keeps ``level_weights`` throughout; the validation loss
        of early stopping always uses ``level_weights``.
    consistency : float, default=0.0
        Weight of the penalty on the squared difference between a coarse
        head's probabilities and the summed probabilities of its children in
        the next finer head; 0 or more, 0 turns it off.
    label_smoothing : float, default=0.05
        Label smoothing of the training cross-entropy, in [0, 1).
    weight_averaging : float, default=0.0
        Decay of an exponential moving average of the weights, updated after
        every batch, in [0, 1); 0 turns it off. Validation (early stopping)
        and the fitted model use the averaged weights, training continues
        from the raw ones. 0.99 averages over about the last 100 batches.
    class_weight : None, "balanced", dict or list, default=None
        Weight of each class in the loss. "balanced" weighs each sample at
        every level by ``n_samples / (n_classes * count(class))`` of its class
        there, as in scikit-learn. A dict ``{label: weight}`` applies to the
        finest level (classes not listed weigh 1). A list gives one entry
        (None, "balanced" or a dict) per level, coarse to fine. "balanced"
        counts the classes in the data of each call (each chunk, for
        :meth:`partial_fit`). With a label under several parents, "balanced"
        counts each node (path) as a class and a dict entry weighs every node
        that carries the label.
    coarse_decoding_weight : float, default=0.25
        How much the coarse heads vote when root-to-leaf paths are scored at
        prediction time: a path's score is the finest head's log-probability
        of its leaf plus this weight times the coarse heads'
        log-probabilities of its ancestors; 0 or more. 0 lets the coarse
        heads act as training signal only; 1 multiplies every level's
        probabilities.
    min_path_probability : float in [0, 1] or None, default=None
        Stop each predicted path at the deepest level the model is sure of.
        None: :meth:`predict` returns the full decoded path. A number: it
        returns the longest prefix of the decoded path whose probability is
        at least this value; the levels below are None (in an object array,
        whatever the labels' dtype), the marker of a shorter path that
        partial labels and :mod:`mgclassifier.metrics` use. Probabilities
        are coherent, so a prefix's probability never rises as it gets
        longer; a row whose coarsest node is already below the value is all
        None. A label under several parents is judged by its node (path),
        not by its probability summed over parents. Read at predict time:
        :meth:`predict_proba` is unaffected, and ``set_params`` on a fitted
        model needs no refit. Tune it with ``GridSearchCV`` and
        :func:`~mgclassifier.metrics.hierarchical_f1_scorer`, which rewards a
        correct shorter path over a wrong longer one. Setting it together
        with ``target_accuracy`` is an error.
    n_neighbors : int >= 0, default=0
        Training rows that vote at prediction, by nearness in the network's
        learned features (the last trunk layer's output; cosine similarity).
        A fit with ``n_neighbors > 0`` keeps those features of the rows it
        trained on (``neighbor_features_``: 128 float32 numbers per training
        row, or the last layer's width if narrower, saved with the model), and each
        path's probability becomes ``(1 - neighbors_weight)`` times the
        network's plus ``neighbors_weight`` times the share of the nearest
        rows' votes for it, each vote weighted by one over its cosine
        distance. Coarser levels sum their children, ``predict`` takes the
        best blended path. 0 uses the network alone. Read at predict time
        (it can be changed after a fit that kept the features); refused by
        ``partial_fit`` and ``distributed=True``, which see part of the
        rows. 5 raised AU(PRC) on every real benchmark set; 10 with
        ``neighbors_weight=0.5`` went further on tables with tens of rows a
        class (the user guide's "Neighbour votes").
    neighbors_weight : float in [0, 1], default=0.4
        The votes' share of the path probabilities with ``n_neighbors > 0``.
    target_accuracy : float in (0, 1) or None, default=None
        Paths right at least this often, as deep as possible: ``fit``
        chooses the threshold at which :meth:`predict` stops each path (the
        rule of ``min_path_probability``) on held-out rows, so that the
        share of rows whose returned path is right reaches this value with
        probability ``target_confidence``. A returned path is right when
        every label in it is; a row given no label (None on every level)
        is never wrong, so ``1 - target_accuracy`` bounds the share of rows
        given a wrong label. The held-out rows are ``validation_fraction``
        of the rows (stratified on the finest level), set aside for this
        alone: they train nothing, and with early stopping they are apart
        from its rows, so they pick no epoch and fit no temperature. Rows
        without a finest label are left out of the choice. The guarantee
        assumes the rows predicted later are exchangeable with the held-out
        ones (drawn from the same distribution); for rows from elsewhere,
        :meth:`choose_threshold` chooses it again on a labelled sample of
        them. The threshold is ``path_threshold_``, what the held-out rows
        get ``held_out_coverage_``. None: ``min_path_probability`` decides.
    target_confidence : float in (0, 1), default=0.9
        Probability, over the draw of the held-out rows (and of the batch,
        with ``target_batch_size``), that the threshold chosen for
        ``target_accuracy`` reaches it (a one-sided Clopper-Pearson bound;
        for a batch, a hypergeometric one). Higher asks more held-out
        evidence, so paths get shorter.
    target_batch_size : int >= 1 or None, default=None
        Whose accuracy ``target_accuracy`` guarantees. None: the long-run
        share of right paths over all future rows. An int ``m``: the share
        over a batch of ``m`` future rows judged as a whole (a test set, a
        week's products), which scatters around the long-run share; with
        None a threshold just good enough in the long run misses the
        target on about half of such batches, with ``m`` on at most
        ``1 - target_confidence`` of them (exact for any ``m``, by ranks;
        it keeps slightly shorter paths than None for batches of hundreds
        or thousands of rows). Not the training ``batch_size``.
    calibrate : bool, default=True
        With early stopping, fit one temperature that divides all logits by
        minimising the log-loss of the held-out split, so probabilities are
        comparable across samples (this does not change ``predict``, unless
        ``coarse_decoding_weight`` > 0 where it may shift near-ties). A
        fit without a held-out split (``early_stopping="auto"`` on 10,000
        rows or fewer) gets temperature 1; set ``early_stopping=True`` for
        calibrated probabilities there. A resumed fit without a held-out
        split keeps the temperature it has; ``calibrate=False`` sets it to 1.
    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of the training data and stop when
        the validation loss has not improved for ``patience`` epochs; the
        weights of the best epoch are restored. The split is stratified on the
        finest level when every class allows it, otherwise random. False
        trains on every row for ``max_epochs`` epochs and keeps the last
        weights. "auto" is True when a dense ``X`` has more than 10,000 rows,
        as in scikit-learn's ``HistGradientBoostingClassifier``, and False
        otherwise (a sparse ``X`` gets an epoch budget sized to it, see
        ``max_epochs``). The value used is ``early_stopping_``.
        ``calibrate`` needs the held-out rows.
    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping, in
        (0, 1); ``target_accuracy`` sets another such fraction aside for its
        threshold.
    patience : int, default=7
        Epochs without improvement of the validation loss before training
        stops (the weights of the best epoch are kept), 1 or more; used only
        with early stopping.
    max_epochs : int or "auto", default="auto"
        Maximum number of passes over the training data, 1 or more; also the
        length of the ``"onecycle"`` learning-rate schedule. "auto" is 30;
        for a sparse ``X`` (TF-IDF, counts), 160 over the mean number of
        training rows a column is non-zero in, within [10, 30]: about 30 on
        short texts, whose terms are rare, 10-12 on long documents, whose
        first-layer rows are fitted in fewer passes. The value used is
        ``max_epochs_``.
    batch_size : int or "auto", default="auto"
        Number of rows in each minibatch, 1 or more. "auto" is the power of
        two nearest ``n_samples / 16`` (``/ 8`` for a sparse ``X``), clipped
        to [32, 512]: about 16 optimizer steps an epoch on small data, 512
        from 5,793 dense rows on. The value used is ``batch_size_``.
    lr : float or "auto", default="auto"
        Adam learning rate (the peak rate under ``lr_schedule="onecycle"``),
        greater than 0. "auto" is 6e-3 at batch size 512, scaled with the
        square root of the batch size (3e-3 at 128), whichever way the batch
        size was set. The value used is ``lr_``.
    lr_schedule : {"onecycle", "constant"}, default="onecycle"
        "onecycle" warms the learning rate up over the first 10% of the
        ``max_epochs`` budget, then decays it along a cosine to nearly zero
        (``partial_fit`` always uses the constant rate). "constant" keeps
        ``lr`` throughout.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of the training forward passes. "bfloat16" is mixed
        precision (``torch.autocast``): matrix products in bfloat16, weights,
        optimizer and loss in float32. "auto" uses it on CPUs that run
        bfloat16 natively (x86 with AVX-512 BF16 or AMX) and float32
        elsewhere, GPUs included. "bfloat16" on a GPU without bfloat16 fails
        before training. Prediction never uses bfloat16: the network runs in
        float32, and in float64 for float64 rows on the CPU.
    device : str, default="cpu"
        Torch device to train and predict on: "cpu", "cuda", "cuda:1", ...,
        or "auto" (CUDA when available, else CPU).
    n_threads : int, "auto" or None, default="auto"
        Threads torch runs on during ``fit``, ``partial_fit`` and the
        predictions, set for the call and restored afterwards (the setting
        is process-wide while the call runs). "auto": as many as this
        process has CPUs that other work leaves free, read from the
        kernel's CPU accounting when the call starts and again after every
        training epoch, at most torch's own setting (on a CPU shared with
        busy processes fewer threads are faster: threads that wait for each
        other at every step stall on a CPU another process holds); torch's
        own setting where the load cannot be read (systems without
        ``/proc/stat``). An int, 1 or more: that many. None: torch's setting
        as it is.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the validation
        split. An int gives the same model on every fit (on the CPU).
    warm_start : bool, default=False
        When True and the estimator is already fitted, ``fit`` continues
        training from the fitted weights and optimizer state (for up to
        ``max_epochs`` more epochs, appended to ``history_``) instead of
        starting afresh. The training parameters take their current values
        (``lr``, ``alpha_l1``, ``alpha_l2``, ``dropout``, the loss and
        early-stopping parameters, ``batch_size``, ``calibrate``,
        ``device``, ...); the ones that fix the network's shape
        (``hidden_layer_sizes``, ``activation``, the number of features and
        the label hierarchy) must stay as they were, else a ``ValueError``
        names the one that changed. Labels must lie on paths of the fitted
        hierarchy. See :meth:`partial_fit` for training on chunks.
    verbose : int, default=0
        0 prints nothing; 1 prints one line per epoch (train and validation
        loss, per level, and the epoch's duration; a level is named by its
        column in a DataFrame ``y``: ``train_loss_family``); 2 also shows a
        tqdm progress bar over the batches of each epoch.
    module : torch.nn.Module class or instance, default=None
        The shared trunk. None: the built-in MLP (``hidden_layer_sizes``,
        ``activation``, ``dropout``, ``head_layers``). Otherwise any module
        that maps a batch of ``X`` to a 2-D tensor ``(batch, width)`` read by
        every head, or to a list/tuple of one such tensor per level (coarse
        to fine), each read by its own head; ``width`` is found by a forward
        pass on two rows before training. A class is instantiated on every
        fit with the ``module__<name>`` parameters (``module__n_filters=32``;
        settable by ``set_params``, searched by ``GridSearchCV``, kept by
        ``clone``); if its ``__init__`` has an ``n_features`` parameter that
        is not given, it gets ``X.shape[1]``. An instance is deep-copied on
        every fit (it starts from its own weights, not re-initialised). With
        a custom trunk ``X`` may also be an image array ``(n, C, H, W)`` or
        an integer matrix of token ids (kept int64); only 2-D float inputs
        are standardised.
    head_layers : array-like of int, default=None
        Built-in trunk only: one int per level (coarse to fine), the index
        of the ``hidden_layer_sizes`` layer whose output its head reads
        (negative indices count from the last layer), so coarse heads can
        sit on earlier layers than fine ones (B-CNN). None: every head reads
        the last layer.
    feature_scaling : {"auto", "standard", "none"}, default="auto"
        How flat float features are scaled inside the network (the fitted
        model carries it, so ``predict`` takes raw features). "standard"
        subtracts each feature's mean and divides by its standard deviation
        (a sparse matrix is only divided, never centred, so it stays
        sparse). "none" uses the features as they are. "auto" is "standard"
        for a dense array and "none" for a sparse matrix (TF-IDF and count
        features are already on a common scale). Image arrays and token ids
        given to a custom ``module`` are never scaled.
    numeric_embeddings : {"piecewise_linear"} or None, default=None
        Embed each numeric feature before the first layer (dense ``X``, the
        built-in trunk). "piecewise_linear" passes each scaled feature
        through a learned piecewise-linear function, with 16 bins at the
        training rows' quantiles, into 4 numbers (Gorishniy et al., NeurIPS
        2022; the ``rtdl-num-embeddings`` package's layer), so the network
        can bend each feature's effect before mixing them. It works with
        ensembles and every head layout. A fit costs about 2.5x a default
        one; it paid most on Diatoms (fine accuracy 0.678 to 0.705, AU(PRC)
        0.784 to 0.798, 5 seeds), less on ImCLEF07D (AU(PRC) 0.918 to
        0.921), nothing on ImCLEF07A (see the user guide's "Numeric
        embeddings").
    checkpoint_dir : str or path-like, default=None
        Directory where ``fit`` writes the training state at the end of every
        epoch (one file, ``fit_state.mgc``, replaced atomically: a crash
        while writing leaves the previous one whole). Calling ``fit`` again
        with the same directory, on the same data and parameters (in a new
        process, say, after a crash) resumes from the last complete epoch
        and trains the remaining ones; on the CPU the model is the same as an
        uninterrupted fit's. A checkpoint of a finished fit gives its model
        without training. Both warn (:class:`~mgclassifier.FitResumedWarning`,
        naming the epoch the fit resumes at, or the finished fit's epochs).
        A checkpoint made with another network, hierarchy, data or training
        parameters, and a truncated or corrupted file, are refused with a
        ``ValueError`` before anything is loaded.
        Use one directory per fit. A warm-started ``fit`` and
        ``partial_fit`` ignore it. None: no checkpoints.
    distributed : bool, default=False
        Train one model on several processes at once with PyTorch's
        ``DistributedDataParallel``: launch the script that calls ``fit`` on
        every process (``torchrun --nproc_per_node 2 script.py``; ``fit``
        then sets up the process group, gloo on the CPU and NCCL on GPUs,
        unless ``torch.distributed`` is initialized already). Every process
        passes the same ``X`` and ``y`` and keeps every ``N``-th row from its
        rank on (``n // N`` rows each; a memory map or a dask array stays out
        of core). ``batch_size`` is the global batch, split over the
        processes. The hierarchy, the standardisation, the early-stopping
        losses and the calibration temperature are shared, so every process
        ends with the same fitted model, which pickles and predicts in a
        single process like any other. ``device="cuda"`` is each process's
        GPU (``LOCAL_RANK``). Only for a ``fit`` from scratch (not
        ``warm_start``, ``partial_fit`` or ``checkpoint_dir``), and not with
        ``target_accuracy``.
    **module__params : dict
        Parameters of a ``module`` class, each given as
        ``module__<name>=value`` (see ``module``).

    Attributes
    ----------
    classes_ : list of ndarray, or ndarray
        Class labels of each level (coarse to fine), each distinct label once,
        sorted; the column order of :meth:`predict_proba`. A label under
        several parents is one entry: its column holds the probability summed
        over those paths (``hierarchy_`` keeps the node-level view). A single
        array when ``fit`` got a 1-D ``y``.
    n_levels_ : int
        Number of levels (1 for a 1-D ``y``).
    n_features_in_ : int
        Number of features seen in ``fit`` (``X.shape[1]``: the channels of
        an image array).
    feature_names_in_ : ndarray of str
        Feature names, when ``X`` was a DataFrame with string column names.
    level_names_ : list of str or None
        Column names of ``y`` when it was a DataFrame (or the name of a
        Series), else None.
    neighbor_features_ : ndarray of shape (n_rows, n_dimensions) or None
        With ``n_neighbors > 0`` at fit: the learned features of the rows the
        network trained on (held-out rows and rows without a finest label
        left out), projected on their first 128 principal components where
        the last layer is wider (``neighbor_projection_``), each row of unit
        length, float32; None otherwise.
    neighbor_projection_ : tuple of two ndarrays or None
        ``(mean, components)`` of that projection: a row's features ``f``
        are compared as ``(f - mean) @ components``; None without one.
    neighbor_paths_ : ndarray of int of shape (n_rows,) or None
        Their paths (rows of ``hierarchy_``'s paths, the finest level's
        nodes); None without ``neighbor_features_``.
    hierarchy_ : LabelHierarchy
        The label tree read from ``y``: a tree of nodes (one per distinct
        path prefix) with parent maps and paths, and the label view
        (``classes``, ``label_index``); ``node_paths(level)`` names the nodes.
    net_ : MultiGranularityNet
        The fitted skorch net; ``net_.module_`` is the torch module.
    history_ : skorch.History
        One row per epoch: ``train_loss``, ``valid_loss``,
        ``train_loss_level_<l>``, ``valid_loss_level_<l>``, ``dur`` (the
        ``valid_`` entries only in epochs with a held-out split).
    n_epochs_ : int
        Number of epochs run.
    path_threshold_ : float or None
        The threshold ``fit`` (or :meth:`choose_threshold`) chose for
        ``target_accuracy`` (0.0: every full path; ``inf``: no label at all,
        when the rows are too few to certify the target); None without
        ``target_accuracy``.
    held_out_coverage_ : dict or None
        What the rows the threshold was chosen on (held out by ``fit``, or
        given to :meth:`choose_threshold`) return at it: ``rows``
        (labelled held-out rows), ``mean_depth`` (levels returned, on
        average), ``full_paths`` (share given every level), ``no_label``
        (share given none), ``accuracy`` (share whose returned path is
        right) and ``accuracy_bound`` (the lower confidence bound at
        ``target_confidence`` of the long-run accuracy, at least
        ``target_accuracy`` when ``target_batch_size`` is None); None
        without ``target_accuracy``.
    temperature_ : float
        Divisor of the logits fitted on the early-stopping split when
        ``calibrate=True``; 1.0 when ``calibrate=False`` or when no fit had a
        held-out split (a resumed fit without one keeps the value it found).
    best_epoch_ : int
        Epoch whose weights the model holds (the last one without early
        stopping).
    precision_ : {"float32", "bfloat16"}
        The training precision that ``precision`` resolved to.
    hidden_layer_sizes_ : tuple of int
        The trunk's layer widths (``hidden_layer_sizes`` resolved; the
        fitted network's for a resumed fit).
    dropout_ : float
        The dropout of the last fit (``dropout`` resolved).
    max_epochs_ : int
        The epoch budget of the last fit (``max_epochs`` resolved).
    batch_size_ : int
        The batch size of the last fit (``batch_size`` resolved).
    lr_ : float
        The (peak) learning rate of the last fit (``lr`` resolved).
    early_stopping_ : bool
        Whether the last fit held rows out for early stopping
        (``early_stopping`` resolved; False for :meth:`partial_fit`).

    See Also
    --------
    sklearn.neural_network.MLPClassifier : flat MLP classifier.

    Notes
    -----
    ``predict_proba`` is coherent with the hierarchy: every root-to-leaf path
    gets the renormalised product of its nodes' per-level probabilities, and
    the probability of a class is the sum over the paths through it. So a
    coarse probability equals the sum of its children's (for a label under
    several parents, the sum over all its nodes' children), and the
    probability of a path's prefix never rises as the prefix gets longer.

    If training is interrupted (Ctrl-C, ``KeyboardInterrupt``), ``fit``
    returns the model of the completed epochs, as if ``max_epochs`` had
    been the last of them, with a :class:`~mgclassifier.FitInterruptedWarning`
    naming the interrupted epoch and the kept one: the cut epoch is not in
    ``history_`` or ``n_epochs_``; the weights are early stopping's best
    epoch's, or the last completed epoch's without it; calibration and
    ``target_accuracy``'s threshold run on them. Interrupted before any
    epoch of the call ended (``partial_fit`` runs one), or after training,
    ``fit`` raises the ``KeyboardInterrupt`` and the estimator is left as
    it was. If the loss stops being finite
    (e.g. ``lr`` far too large), training stops and the last finite weights
    are kept, with a ``ConvergenceWarning``; if no epoch was finite a
    ``RuntimeError`` is raised and the estimator is left as it was.

    ``fit`` warns (``ConvergenceWarning``, as ``MLPClassifier`` does) when
    it ran all ``max_epochs`` epochs and the loss was still falling: the
    best validation loss of the last 10% of the epochs (at least 2) is more
    than 0.1% below the best before them (without early stopping: the
    training loss, by more than 1%). The annealing of the one-cycle
    schedule's last epochs lowers the loss by less. ``partial_fit`` never
    warns.

    A resumed fit (``warm_start``, ``partial_fit``) trains a new net built
    from the current parameters into which the fitted weights and optimizer
    state are copied; the fitted ones are kept until it succeeds, so a failed
    call leaves the estimator as it was. That is one extra copy of the
    weights and of Adam's state on the training device while it trains; the
    history is extended in place, not copied.

    Examples
    --------
    >>> import numpy as np
    >>> from mgclassifier import MultiGranularityClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4))
    >>> fine = (X[:, 0] > 0).astype(int) * 2 + (X[:, 1] > 0)
    >>> Y = np.column_stack([np.where(fine < 2, "a", "b"), fine.astype(str)])
    >>> clf = MultiGranularityClassifier(hidden_layer_sizes=(16,), random_state=0)
    >>> clf.fit(X, Y).predict(X[:2]).shape
    (2, 2)
    >>> [p.shape for p in clf.predict_proba(X[:2])]
    [(2, 2), (2, 4)]
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", StrOptions({"auto"})],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "alpha_l1": [Interval(Real, 0, None, closed="left")],
        "alpha_l2": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "n_members": [Interval(Integral, 1, None, closed="left")],
        "level_weights": [None, StrOptions({"equal", "auxiliary"}), "array-like"],
        "level_weight_schedule": [None, dict],
        "consistency": [Interval(Real, 0, None, closed="left")],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "weight_averaging": [Interval(Real, 0, 1, closed="left")],
        "class_weight": [None, StrOptions({"balanced"}), dict, list],
        "coarse_decoding_weight": [Interval(Real, 0, None, closed="left")],
        "min_path_probability": [None, Interval(Real, 0, 1, closed="both")],
        "n_neighbors": [Interval(Integral, 0, None, closed="left")],
        "neighbors_weight": [Interval(Real, 0, 1, closed="both")],
        "target_accuracy": [None, Interval(Real, 0, 1, closed="neither")],
        "target_confidence": [Interval(Real, 0, 1, closed="neither")],
        "target_batch_size": [None, Interval(Integral, 1, None, closed="left")],
        "calibrate": ["boolean"],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "lr_schedule": [StrOptions({"onecycle", "constant"})],
        "precision": [StrOptions({"auto", "float32", "bfloat16"})],
        "device": [str],
        "n_threads": [
            None,
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "module": "no_validation",  # checked by check_module_params at fit
        "head_layers": [None, "array-like"],
        "feature_scaling": [StrOptions({"auto", "standard", "none"})],
        "numeric_embeddings": [None, StrOptions({"piecewise_linear"})],
        "checkpoint_dir": [None, str, os.PathLike],
        "distributed": ["boolean"],
    }

    def __init__(
        self,
        hidden_layer_sizes="auto",
        activation="relu",
        alpha_l1=0.0,
        alpha_l2=1e-4,
        dropout="auto",
        n_members=1,
        level_weights="auxiliary",
        level_weight_schedule=None,
        consistency=0.0,
        label_smoothing=0.05,
        weight_averaging=0.0,
        class_weight=None,
        coarse_decoding_weight=0.25,
        min_path_probability=None,
        n_neighbors=0,
        neighbors_weight=0.4,
        target_accuracy=None,
        target_confidence=0.9,
        target_batch_size=None,
        calibrate=True,
        early_stopping="auto",
        validation_fraction=0.1,
        patience=7,
        max_epochs="auto",
        batch_size="auto",
        lr="auto",
        lr_schedule="onecycle",
        precision="auto",
        device="cpu",
        n_threads="auto",
        random_state=None,
        warm_start=False,
        verbose=0,
        module=None,
        head_layers=None,
        feature_scaling="auto",
        numeric_embeddings=None,
        checkpoint_dir=None,
        distributed=False,
        **module__params,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha_l1 = alpha_l1
        self.alpha_l2 = alpha_l2
        self.dropout = dropout
        self.n_members = n_members
        self.level_weights = level_weights
        self.level_weight_schedule = level_weight_schedule
        self.consistency = consistency
        self.label_smoothing = label_smoothing
        self.weight_averaging = weight_averaging
        self.class_weight = class_weight
        self.coarse_decoding_weight = coarse_decoding_weight
        self.min_path_probability = min_path_probability
        self.n_neighbors = n_neighbors
        self.neighbors_weight = neighbors_weight
        self.target_accuracy = target_accuracy
        self.target_confidence = target_confidence
        self.target_batch_size = target_batch_size
        self.calibrate = calibrate
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.precision = precision
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.module = module
        self.head_layers = head_layers
        self.feature_scaling = feature_scaling
        self.numeric_embeddings = numeric_embeddings
        self.checkpoint_dir = checkpoint_dir
        self.distributed = distributed
        for name, value in module__params.items():
            check_module_param_name(name)
            setattr(self, name, value)

    # The trunk's own parameters, module__<name>, are attributes like the
    # others (as in skorch's NeuralNet): get_params lists them, so clone and
    # GridSearchCV carry them through the constructor's **module__params.
    def _module_params(self):
        return {
            name: value
            for name, value in vars(self).items()
            if name.startswith("module__")
        }

    def get_params(self, deep=True):
        """Get the parameters of this estimator, the trunk's ``module__`` ones too.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators (none here).

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        params.update(self._module_params())
        return params

    def set_params(self, **params):
        """Set the parameters of this estimator, the trunk's ``module__`` ones too.

        Parameters
        ----------
        **params : dict
            Estimator parameters, and ``module__<name>`` for the trunk's.

        Returns
        -------
        self : MultiGranularityClassifier
            This estimator.
        """
        for name in [name for name in params if name.startswith("module__")]:
            check_module_param_name(name)
            setattr(self, name, params.pop(name))
        return super().set_params(**params) if params else self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = self.module is None  # custom trunks: dense only
        return tags

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, sample_weight=None):
        """Fit the network on every level of ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse input is never densified: each batch goes
            through the first layer as a torch sparse tensor. Out-of-core
            arrays are never read whole: a numpy memory map
            (``np.load(path, mmap_mode="r")``) gives its batches row by row
            in the in-memory order (the same model as in memory); an
            ``h5py.Dataset``, a ``zarr.Array`` or a ``dask.array.Array`` is
            read a chunk at a time, in shuffled order of the chunks and with
            the rows shuffled within blocks of about 64 MiB (a dask array is
            computed chunk by chunk). One pass over the chunks checks the
            values and computes the standardisation; ``y`` stays in memory.
            With a custom ``module``, also an array of shape (n_samples, ...)
            (images) or of integer token ids, which stay int64; out-of-core
            arrays are then read into memory.
        y : array-like of shape (n_samples, n_levels) or (n_samples,)
            Labels, one column per level, coarse to fine. A label may appear
            under several parents in the previous column; each such path is
            a node of its own. A 1-D ``y`` fits an ordinary single-level
            classifier.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample loss weights.

        Returns
        -------
        self : MultiGranularityClassifier
            The fitted estimator.
        """
        return self._transactional_fit(
            X, y, sample_weight, incremental=False, classes=None
        )

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one epoch on a chunk of data, continuing from the current weights.

        For data that arrives in chunks or does not fit in memory, as
        ``partial_fit`` of scikit-learn's ``MLPClassifier``: each call runs
        exactly one epoch over all the rows it is given. Nothing is held
        out and early stopping is never used, whatever ``early_stopping``
        says; ``temperature_`` is left as it is. As for a warm start
        (``warm_start``), each call applies the current training parameters
        and refuses changes to the network's shape; ``max_epochs`` is not
        used. If a call fails, the estimator is left as it was before it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data of this chunk.
        y : array-like of shape (n_samples, n_levels) or (n_samples,)
            Labels, one column per level, coarse to fine.
        classes : array-like of shape (n_paths, n_levels) or (n_classes,), \
                default=None
            Every root-to-leaf path (or, for a 1-D ``y``, every class) that
            chunks may contain: needed on the first call when the first
            chunk lacks some; later calls may omit it, or must pass the same
            hierarchy. If None on the first call, the hierarchy is read from
            the first chunk, and later chunks with other labels are refused.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample loss weights.

        Returns
        -------
        self : MultiGranularityClassifier
            The estimator, trained one more epoch.
        """
        return self._transactional_fit(
            X, y, sample_weight, incremental=True, classes=classes
        )

    def _transactional_fit(self, X, y, sample_weight, **kwargs):
        # A fit that fails must leave a fitted estimator exactly as it was. A
        # resumed fit appends to the fitted history instead of copying it (a
        # stream of partial_fit calls would copy a growing history each time):
        # cut it back to its old length.
        state = self.__dict__.copy()
        history = state.get("history_")
        n_rows = len(history) if history is not None else 0
        try:
            return self._fit(X, y, sample_weight, **kwargs)
        except BaseException:
            if history is not None:
                del history[n_rows:]
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    @_fit_context(prefer_skip_nested_validation=True)
    def _fit(self, X, y, sample_weight, *, incremental, classes):
        # After _fit_context's check of the parameters, n_threads among them.
        with torch_threads(self.n_threads, wait=True):
            return self._fit_steps(
                X, y, sample_weight, incremental=incremental, classes=classes
            )

    def _fit_steps(self, X, y, sample_weight, *, incremental, classes):
        # Every check first: the parameters, the data, then what depends on
        # both (_config); nothing is copied to a device or trained before.
        resume = (self.warm_start or incremental) and hasattr(self, "net_")
        check_fit_params(self, incremental=incremental, resume=resume)
        level_names = self.level_names_ if resume else level_names_of(y)
        X, Y, y_was_1d, sample_weight = validate_fit_data(
            self, X, y, sample_weight, reset=not resume
        )
        hierarchy, codes = self._label_tree(Y, y_was_1d, incremental, classes, resume)
        if not resume and not (incremental and classes is not None):
            _warn_about_hierarchy(hierarchy, codes, level_names)
        config = resolve_config(
            self,
            X,
            hierarchy,
            codes,
            incremental=incremental,
            resume=resume,
            level_names=level_names,
        )
        trained = train(
            config,
            X,
            codes,
            hierarchy,
            sample_weight,
            fitted=(self.net_, self.temperature_) if resume else None,
        )

        self.hierarchy_ = hierarchy
        self.classes_ = hierarchy.classes[0] if y_was_1d else hierarchy.classes
        self.n_levels_ = hierarchy.n_levels
        self.level_names_ = level_names
        self._y_was_1d = y_was_1d
        self.net_ = trained.net
        self.history_ = trained.net.history
        self.n_epochs_ = len(trained.net.history)
        self.best_epoch_ = trained.best_epoch
        self.temperature_ = trained.temperature
        self.precision_ = config.training.precision
        self.path_threshold_ = trained.path_threshold
        self.held_out_coverage_ = trained.held_out_coverage
        self._selective_target = trained.target
        votes = trained.neighbors
        features, paths, projection = (None,) * 3 if votes is None else votes.arrays()
        self.neighbor_features_ = features
        self.neighbor_paths_ = paths
        self.neighbor_projection_ = projection
        self.hidden_layer_sizes_ = config.network.hidden_layer_sizes
        self.dropout_ = config.network.dropout
        self.max_epochs_ = config.training.max_epochs
        self.batch_size_ = config.training.batch_size
        self.lr_ = config.training.lr
        self.early_stopping_ = config.training.early_stopping
        self._fitted_structure = network_structure(self)
        self._predictor_cache = (self._predictor_key(), trained.predictor)
        return self

    def _label_tree(self, Y, y_was_1d, incremental, classes, resume):
        """``(hierarchy, codes)``: the label tree of a fresh fit, or the
        fitted one (checked against the labels, partial_fit's ``classes``
        and the network's shape) of a resumed fit.

        In a data-parallel fit the tree is read from the rows the processes
        share (``n // processes`` each; the last few rows are left out).
        """
        declared = None  # the hierarchy partial_fit's `classes` describes
        if incremental and classes is not None:
            classes = np.asarray(classes)
            declared, _ = LabelHierarchy.from_labels(
                classes[:, None] if classes.ndim == 1 else classes
            )
        if resume:
            check_resumable(
                y_was_1d,
                self._y_was_1d,
                network_structure(self),
                self._fitted_structure,
                declared,
                self.hierarchy_,
            )
            return self.hierarchy_, self.hierarchy_.encode_known(Y)
        if declared is not None:
            return declared, declared.encode_known(Y)
        processes = process_count(self.distributed)
        if processes > 1:
            Y = Y[: len(Y) // processes * processes]
        return LabelHierarchy.from_labels(Y)

    # -------------------------------------------------------------- predict
    def _check_fitted(self):
        # Naming the attribute spares check_is_fitted its scan of every
        # attribute (~10 µs here, a tenth of a one-row predict_proba).
        check_is_fitted(self, "net_")

    def _predictor(self):
        """The fitted network and the prediction engine (a :class:`Predictor`),
        for the current ``coarse_decoding_weight``, on the net's device.

        Built at the end of ``fit``; rebuilt (index arrays, and the heads with
        the coarse votes folded in: milliseconds) when the weight was changed
        since, or after unpickling, which leaves it out.
        """
        key, predictor = self.__dict__.get("_predictor_cache", (None, None))
        if key != self._predictor_key():
            predictor = Predictor(
                self.hierarchy_,
                self.coarse_decoding_weight,
                self.temperature_,
                self.net_.module_,
            )
            predictor.neighbors = self._neighbor_votes(predictor.engine)
            self._predictor_cache = (self._predictor_key(), predictor)
        return predictor

    def _neighbor_votes(self, engine):
        """The training rows' votes for ``n_neighbors`` (None for 0)."""
        if not self.n_neighbors:
            return None
        features = getattr(self, "neighbor_features_", None)
        if features is None:
            raise ValueError(
                f"n_neighbors={self.n_neighbors} needs the learned features of "
                f"the training rows, which only a fit with n_neighbors > 0 "
                f"keeps; this model was fitted with n_neighbors=0. Fit it again "
                f"with n_neighbors set, or set n_neighbors=0 to predict with "
                f"the network alone."
            )
        return NeighborVotes(
            features,
            self.neighbor_paths_,
            engine.node_counts[-1],
            self.n_neighbors,
            self.neighbors_weight,
            getattr(self, "neighbor_projection_", None),
        )

    def _predictor_key(self):
        """What the predictor depends on beyond the fit: weight, temperature,
        neighbour votes, device."""
        return (
            float(self.coarse_decoding_weight),
            int(self.n_neighbors),
            float(self.neighbors_weight),
            self.temperature_,
            str(self.net_.device),
        )

    def __getstate__(self):
        state = super().__getstate__()
        # Rebuilt on demand: a saved model holds no second copy of the network.
        state.pop("_predictor_cache", None)
        return state

    def _proba(self, X, labels):
        """Each level's probabilities (label or node columns), numpy."""
        self._check_fitted()
        predictor, rows, dtype = self._prediction_input(X)
        return predict_proba(predictor, rows, dtype, labels=labels)

    def _prediction_input(self, X):
        """``(predictor, rows, dtype)``: what prediction runs, ``X`` validated
        into the dtype the network reads, and the probabilities' dtype."""
        dtype, predictor = proba_dtype(X), self._predictor()
        rows = validate_for_prediction(self, X, predictor.rows_dtype(dtype))
        return predictor, rows, dtype

    @in_torch_threads
    def predict_proba(self, X):
        """Probability of every class of every level.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        proba : list of ndarray of shape (n_samples, n_classes_l), or ndarray
            One array per level, columns in ``classes_[l]`` order, rows summing
            to 1; a coarse probability equals the sum of its children's. The
            column of a label under several parents is the sum over its
            nodes (:meth:`predict_node_proba` gives one column per node). A
            single array when ``fit`` got a 1-D ``y``. float32 when ``X`` is
            a float32 array, float64 otherwise (as ``MLPClassifier``).
        """
        probas = self._proba(X, labels=True)
        return probas[0] if self._y_was_1d else probas

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        log_proba : list of ndarray of shape (n_samples, n_classes_l), or ndarray
            As :meth:`predict_proba`, in log space (-inf where a probability
            is 0).
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba) if self._y_was_1d else [np.log(p) for p in proba]

    @in_torch_threads
    def predict_node_proba(self, X):
        """Probability of every node of every level: the node-level view.

        A node is a path from the root, so a label under several parents has
        one column per parent here, where :meth:`predict_proba` has one
        column per label. Without repeated labels the two are equal.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        proba : list of ndarray of shape (n_samples, n_nodes_l)
            One array per level; column ``j`` is the node whose path is
            ``hierarchy_.node_paths(l)[j]``. A node's probability is the sum
            of its children's. float32 when ``X`` is a float32 array,
            float64 otherwise.
        """
        return self._proba(X, labels=False)

    @in_torch_threads
    def predict(self, X):
        """Most probable root-to-leaf path of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_levels), or (n_samples,)
            Labels, always a path that exists in the hierarchy seen in fit.
            With ``min_path_probability`` (or ``target_accuracy``), an
            object array holding the longest prefix of that path whose
            probability reaches the threshold, and None below.
        """
        self._check_fitted()
        threshold = prediction_threshold(self, self._selective_target)
        predictor, rows, dtype = self._prediction_input(X)
        leaf, depth = predict_leaves(predictor, rows, dtype, threshold)
        paths = self.hierarchy_.decode_leaves(leaf, depth=depth)
        return paths[:, 0] if self._y_was_1d else paths

    @_fit_context(prefer_skip_nested_validation=True)
    @in_torch_threads
    def choose_threshold(self, X, y):
        """Choose the threshold of ``target_accuracy`` on labelled rows.

        ``fit`` chooses ``path_threshold_`` on rows it holds out of the
        training data, so the guarantee holds for rows exchangeable with
        those. Where the rows to predict come from elsewhere (another site,
        a later season, a test set collected apart from the training set),
        choose it again on a labelled sample of such rows: the guarantee
        then holds for rows exchangeable with these. Nothing is trained;
        ``target_accuracy``, ``target_confidence`` and ``target_batch_size``
        are read as they are now, so this also applies ones set after
        ``fit``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows like the ones to predict, which trained nothing.
        y : array-like of shape (n_samples, n_levels) or (n_samples,)
            Their labels. Rows without a finest label are left out; a label
            the model never saw is a level no predicted path gets right.

        Returns
        -------
        self : MultiGranularityClassifier
            With ``path_threshold_`` and ``held_out_coverage_`` (what these
            rows return at it) chosen on ``X`` and ``y``.

        Examples
        --------
        >>> from mgclassifier import MultiGranularityClassifier
        >>> from mgclassifier.datasets import make_hierarchical_classification
        >>> X, Y = make_hierarchical_classification(3000, random_state=0)
        >>> clf = MultiGranularityClassifier(
        ...     target_accuracy=0.9, max_epochs=5, random_state=0
        ... ).fit(X[:2000], Y[:2000])
        >>> clf = clf.set_params(target_accuracy=0.95)
        >>> clf = clf.choose_threshold(X[2000:], Y[2000:])
        >>> coverage = clf.held_out_coverage_
        >>> coverage["rows"], coverage["accuracy_bound"] >= 0.95
        (1000, True)
        """
        self._check_fitted()
        if self.target_accuracy is None:
            raise ValueError(
                "choose_threshold chooses the threshold for target_accuracy, "
                "which is None; set it first, e.g. "
                "set_params(target_accuracy=0.95)."
            )
        check_selective_params(self, incremental=False)
        predictor = self._predictor()
        X, Y = validate_labelled_rows(self, X, y, predictor.rows_dtype(np.float64))
        codes = self.hierarchy_.encode_judged(Y)
        target = selective_target(self)
        threshold, coverage = held_out_threshold(
            predictor, X, codes, np.arange(X.shape[0]), target, given=True
        )
        self.path_threshold_, self.held_out_coverage_ = threshold, coverage
        self._selective_target = target
        return self

    def score(self, X, y, sample_weight=None):
        """Exact-path accuracy: the fraction of samples whose path is right.

        A row counts when its predicted labels agree with ``y`` at every
        level (missing labels with missing labels). When no label repeats
        under two parents and paths are full, this is the finest level's
        accuracy. This is what ``GridSearchCV`` maximises by default; see
        :mod:`mgclassifier.metrics` for hierarchical scorers. Rows whose
        finest label is missing (None, NaN, "") are skipped, as the training
        loss skips them at that level, so partially labelled data can be
        cross-validated.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples, n_levels) or (n_samples,)
            True paths.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Accuracy over the rows that have a finest label.

        Raises
        ------
        ValueError
            If no row of ``y`` has a finest label.
        """
        X, y, sample_weight = _drop_rows_without_finest_label(X, y, sample_weight)
        correct = _path_correct(y, self.predict(X))
        return float(np.average(correct, weights=sample_weight))


def _warn_about_hierarchy(hierarchy, codes, level_names):
    """One HierarchyWarning for what looks like a mistake in a fresh tree."""
    findings = hierarchy_findings(hierarchy, codes, level_names)
    if findings:
        warn_at_caller(
            f"The label tree read from y looks mistaken in places (it is kept "
            f"as given). {' '.join(findings)} Once the labels are known to be "
            f"right, silence this with warnings.filterwarnings('ignore', "
            f"category=mgclassifier.HierarchyWarning).",
            HierarchyWarning,
        )

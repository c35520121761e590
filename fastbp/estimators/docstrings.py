"""The parameter and attribute sections of the estimators' docstrings, written once for
:class:`fastbp.MLPClassifier`, :class:`fastbp.MLPRegressor` and their Dask counterparts."""

#: Docstring text shared by both estimators.
PARAMETERS_DOC = """
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Width of each hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu', 'leaky_relu', 'elu', 'gelu', \
'softplus'}, default='relu'
        Hidden activation; the last four are fastbp's additions.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        'lbfgs' runs scipy's L-BFGS-B on the full batch.
    alpha : float, default=0.0001
        L2 penalty, ``alpha / (2 * sum(batch sample weights)) * ||W||^2`` per batch.
    batch_size : int or 'auto', default='auto'
        'auto' is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Schedule for ``solver='sgd'``: 'invscaling' is ``learning_rate_init / (t + 1) ** power_t``
        with ``t`` the samples seen; 'adaptive' divides the rate by 5 whenever the monitored figure
        stalls for ``n_iter_no_change + 1`` epochs and stops below 1e-6. Adam ignores it.
    learning_rate_init : float, default=0.001
        Initial learning rate of 'sgd' and 'adam'.
    power_t : float, default=0.5
        Exponent of ``learning_rate='invscaling'``.
    max_iter : int, default=200
        Epochs for the stochastic solvers, iterations for 'lbfgs'.
    shuffle : bool, default=True
        Visit the samples in a new random order each epoch (stochastic solvers).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights (drawn exactly as scikit-learn draws them), the validation
        split, shuffling and dropout.
    tol : float, default=1e-4
        An epoch counts toward ``n_iter_no_change`` unless it improves the best training loss
        (with ``early_stopping``, the best validation score) by at least ``tol``. For 'lbfgs',
        scipy's projected-gradient tolerance.
    verbose : bool or int, default=False
        Any true value prints scikit-learn's lines to stdout: ``Iteration N, loss = L`` after each
        epoch (and ``Validation score: S`` with early stopping).
    warm_start : bool, default=False
        Start ``fit`` from the weights of the previous fit (same classes required for a
        classifier) instead of a fresh initialisation.
    momentum : float in [0, 1), default=0.9
        Momentum of 'sgd' (scikit-learn allows 1; fastbp refuses it).
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum with 'sgd'.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when the validation score stalls and
        keep the best epoch's weights.
    validation_fraction : float, default=0.1
        Fraction of the training data held out with ``early_stopping`` or ``validation``.
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
        Decay rates of Adam's first and second moment estimates.
    epsilon : float, default=1e-8
        Adam's term added to the denominator for numerical stability.
    n_iter_no_change : int or np.inf, default=10
        Stochastic solvers stop once more than this many consecutive epochs fail to improve by
        ``tol``; with ``solver='sgd'`` and ``learning_rate='adaptive'`` the rate is divided by 5
        instead, until it falls below 1e-6.
    max_fun : int, default=15000
        Loss evaluations allowed to 'lbfgs'.
    dtype : {None, 'float32', 'float64'}, default=None
        Precision of the network; None follows ``X`` (float32 stays float32, anything else is
        float64).
    backend : {'cpu', 'numpy', 'cuda'}, default='cpu'
        'cpu' runs the Numba CPU kernels, 'numpy' the NumPy reference kernels, 'cuda' the Numba
        CUDA kernels on an NVIDIA GPU; 'cuda' needs numba-cuda and a usable GPU
        (``pip install 'fastbp[cuda]'``), else fitting raises :class:`fastbp.DeviceError`.
    dropout : float in [0, 1), default=0
        Inverted dropout on every hidden layer while training.
    validation : bool, default=False
        Hold out ``validation_fraction`` and record the validation score and loss every epoch
        even without early stopping.
"""

ATTRIBUTES_DOC = """
    loss_ : float
        Training loss of the last epoch (penalty included).
    best_loss_ : float or None
        Best training loss (None with early stopping).
    loss_curve_ : list of float
        Training loss of each epoch (stochastic solvers).
    validation_scores_ : list of float or None
        Validation score of each epoch when a validation split is used (``early_stopping`` or
        ``validation``), else None.
    validation_loss_curve_ : list of float or None
        Validation loss of each epoch, likewise (fastbp's addition).
    best_validation_score_ : float or None
    t_ : int
        Training samples seen.
    coefs_ : list of ndarray of shape (n_in, n_out)
        Weights of each layer (views of the network's; writable).
    intercepts_ : list of ndarray of shape (n_out,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Only when ``X`` has string column names.
    n_iter_ : int
        Epochs (or lbfgs iterations) run by the last fit.
    n_layers_ : int
    n_outputs_ : int
"""

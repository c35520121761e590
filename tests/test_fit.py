"""Sequential.fit: the compiled epoch against the NumPy one, and the loop's promises."""

import warnings

import numpy as np
import pytest

import fastbp
from fastbp import schedules

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def _blobs(n=150, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, d)) * 2
    y = rng.integers(0, k, n)
    return centres[y] + rng.standard_normal((n, d)), y


def _classifier(backend="cpu", dtype="float64", seed=0, dropout=0.0, width=16):
    return fastbp.Sequential([fastbp.Dense(5, width, "tanh", dropout=dropout),
                              fastbp.Dense(width, 12, "relu"),
                              fastbp.Dense(12, 3, "softmax")],
                             loss="cross_entropy", dtype=dtype, backend=backend, seed=seed)


@pytest.mark.parametrize("optimizer", [
    lambda: fastbp.SGD(0.05, momentum=0.9),
    lambda: fastbp.SGD(0.05, momentum=0.8, nesterov=True),
    lambda: fastbp.Adam(0.01),
], ids=["sgd-momentum", "sgd-nesterov", "adam"])
def test_cpu_and_numpy_backends_train_to_the_same_weights(optimizer):
    X, y = _blobs()
    w = np.random.default_rng(5).uniform(0.5, 2, len(y))
    thetas = []
    for backend in ("numpy", "cpu"):
        model = _classifier(backend, dropout=0.2)
        model.fit(X, y, epochs=5, batch_size=32, optimizer=optimizer(), alpha=1e-3,
                  schedule=schedules.StepDecay(2, 0.5), seed=3, sample_weight=w)
        thetas.append(model.parameters.copy())
    np.testing.assert_allclose(thetas[1], thetas[0], rtol=1e-9, atol=1e-12)
    assert not np.allclose(thetas[1], _classifier().parameters)  # training moved the weights


def test_full_batch_fit_is_repeated_gradient_descent_steps():
    X, y = _blobs(n=60)
    stepped, fitted = _classifier(), _classifier()
    for _ in range(4):
        stepped.step(X, y, lr=0.1)
    fitted.fit(X, y, epochs=4, batch_size=None, optimizer=fastbp.SGD(0.1), shuffle=False)
    np.testing.assert_allclose(fitted.parameters, stepped.parameters, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_is_bitwise_reproducible_and_other_seeds_differ(dtype):
    X, y = _blobs()
    runs = {}
    for seed in (1, 1, 2):
        model = _classifier(dtype=dtype, dropout=0.3)
        model.fit(X, y, epochs=3, batch_size=16, seed=seed)
        assert model.parameters.dtype == np.dtype(dtype)
        runs.setdefault(seed, []).append(model.parameters.copy())
    np.testing.assert_array_equal(runs[1][0], runs[1][1])
    assert not np.array_equal(runs[1][0], runs[2][0])


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh"])
def test_worked_example_5_xor_is_learned_by_fit(hidden):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    y = np.array([0, 1, 1, 0], float)
    model = fastbp.Sequential([fastbp.Dense(2, 4, hidden), fastbp.Dense(4, 1, "sigmoid")],
                              loss="binary_cross_entropy", dtype="float64", seed=0)
    model.fit(X, y, epochs=3000, batch_size=None, optimizer=fastbp.SGD(1.0, momentum=0.9))
    np.testing.assert_array_equal(model.forward(X)[:, 0] > 0.5, y > 0.5)


def test_worked_example_6_linear_regression_by_fit():
    rng = np.random.default_rng(42)
    X = rng.standard_normal((100, 1))
    y = 2 * X + 0.5 + 0.1 * rng.standard_normal((100, 1))
    model = fastbp.Sequential([fastbp.Dense(1, 1)], loss="squared_error", dtype="float64", seed=0)
    model.layers[0].W, model.layers[0].b = [[0.0]], [0.0]
    model.fit(X, y, epochs=100, batch_size=None, optimizer=fastbp.SGD(0.1), shuffle=False)
    assert abs(model.layers[0].W[0, 0] - 2.0) < 0.05
    assert abs(model.layers[0].b[0] - 0.5) < 0.05


def _line():
    x = np.linspace(-1, 1, 50)[:, None]
    return x, 0.5 * x + 1


def _fit_line(lr, epochs=30):
    X, y = _line()
    model = fastbp.Sequential([fastbp.Dense(1, 1)], loss="squared_error", dtype="float64")
    model.layers[0].W, model.layers[0].b = [[0.0]], [0.0]
    history = model.fit(X, y, epochs=epochs, batch_size=None, optimizer=fastbp.SGD(lr),
                        shuffle=False)
    return model, history


def test_worked_example_7_learning_rates():
    # Full-batch GD on this problem is stable for lr < 2 / lambda_max of the Hessian.
    X, _ = _line()
    design = np.hstack([X, np.ones_like(X)])
    limit = 2 / np.linalg.eigvalsh(design.T @ design / len(X)).max()
    _, slow = _fit_line(0.01 * limit)
    _, fast = _fit_line(0.5 * limit)
    assert fast.loss[-1] < 1e-6 < slow.loss[-1]
    assert slow.loss[-1] < slow.loss[0]  # converging, slowly

    # Past the limit, the loss grows geometrically until it overflows: a DivergenceError.
    model, _ = _fit_line(1.0, epochs=1)
    with pytest.raises(fastbp.DivergenceError, match=r"diverged in epoch \d+.*smaller learning"):
        model.fit(*_line(), epochs=5000, batch_size=None, optimizer=fastbp.SGD(2.5 * limit),
                  shuffle=False)
    assert np.all(np.isfinite(model.parameters))


def test_divergence_undoes_the_fit():
    X, y = _line()
    limit_lr = 5.0
    probe, _ = _fit_line(0.1, epochs=1)
    before, seen = probe.parameters.copy(), probe.samples_seen
    with pytest.raises(fastbp.DivergenceError, match="the fit was undone") as info:
        probe.fit(X, y, epochs=5000, batch_size=None, optimizer=fastbp.SGD(limit_lr),
                  shuffle=False)
    failed_epoch = int(str(info.value).split("epoch ")[1].split(":")[0])
    assert failed_epoch > 1  # epochs were trained, and undone
    np.testing.assert_array_equal(probe.parameters, before)
    assert probe.samples_seen == seen


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5))
    y = X[:, 0] + rng.standard_normal(40)  # mostly noise: a wide net overfits it
    Xv = rng.standard_normal((200, 5))
    yv = Xv[:, 0] + rng.standard_normal(200)
    model = fastbp.Sequential([fastbp.Dense(5, 256, "relu"), fastbp.Dense(256, 1)],
                              dtype="float64", seed=0)
    stopper = fastbp.EarlyStopping(monitor="val_loss", patience=20)
    history = model.fit(X, y, epochs=2000, batch_size=None, optimizer=fastbp.Adam(0.01),
                        validation_data=(Xv, yv), early_stopping=stopper)
    assert history.stopped_early
    best = int(np.argmin(history.val_loss))
    assert history.best_epoch == best < history.epochs - 1  # it overfitted after the best epoch
    assert min(history.val_loss) < history.val_loss[-1]
    assert model.loss(Xv, yv) == pytest.approx(history.val_loss[best], rel=1e-12)


def test_validation_split_holds_out_the_last_fraction():
    X, y = _blobs(n=100)
    model = _classifier()
    history = model.fit(X, y, epochs=2, validation_split=0.2, seed=0)
    assert len(history.val_loss) == 2
    assert history.val_loss[-1] == pytest.approx(model.loss(X[80:], y[80:]), rel=1e-12)
    accuracy = np.mean(model.forward(X[80:]).argmax(1) == y[80:])
    assert history.val_metric[-1] == pytest.approx(accuracy)


def test_keyboard_interrupt_stops_cleanly_with_the_last_completed_epoch(monkeypatch):
    X, y = _blobs()
    model = _classifier()
    real = model.kernels.train_epochs
    runs = []

    def interrupted_after_the_second_run(*args):
        runs.append(len(args[-1].lrs))  # the run's epochs
        done = real(*args)  # the run's updates land, as when Ctrl-C arrives during it
        if len(runs) == 2:
            raise KeyboardInterrupt
        return done

    monkeypatch.setattr(model, "_kernels", _Patched(model._kernels, interrupted_after_the_second_run))
    with pytest.warns(RuntimeWarning, match="interrupted after") as warned:
        history = model.fit(X, y, epochs=10, seed=4)
    assert len(runs) == 2 and history.interrupted and history.epochs == runs[0]
    assert f"after {runs[0]} completed epochs" in str(warned[0].message)
    reference = _classifier()
    reference.fit(X, y, epochs=runs[0], seed=4)
    np.testing.assert_array_equal(model.parameters, reference.parameters)


class _Patched:
    def __init__(self, kernels, train_epochs):
        self._kernels, self.train_epochs = kernels, train_epochs

    def __getattr__(self, name):
        return getattr(self._kernels, name)


def test_optimizer_object_keeps_its_state_across_fits():
    X, y = _blobs()
    once, twice = _classifier(), _classifier()
    once.fit(X, y, epochs=4, batch_size=None, optimizer=fastbp.Adam(0.01), shuffle=False)
    adam = fastbp.Adam(0.01)
    twice.fit(X, y, epochs=2, batch_size=None, optimizer=adam, shuffle=False)
    twice.fit(X, y, epochs=2, batch_size=None, optimizer=adam, shuffle=False)
    assert adam.steps == 4
    np.testing.assert_allclose(twice.parameters, once.parameters, rtol=1e-12)


def test_dropout_is_off_at_inference():
    X, y = _blobs()
    model = _classifier(dropout=0.5)
    model.fit(X, y, epochs=2, seed=0)
    plain = _classifier()
    plain.set_parameters(model.parameters)
    np.testing.assert_array_equal(model.forward(X), plain.forward(X))


def test_schedules_give_their_formulas():
    assert [schedules.StepDecay(2, 0.5).lr(e, 1.0, 0) for e in range(5)] == [1, 1, .5, .5, .25]
    cosine = schedules.CosineAnnealing(T_max=4, eta_min=0.1)
    assert [round(cosine.lr(e, 1.1, 0), 12) for e in (0, 2, 4, 9)] == [1.1, 0.6, 0.1, 0.1]
    warm = schedules.LinearWarmup(3, after=schedules.StepDecay(1, 0.5))
    assert [warm.lr(e, 1.0, 0) for e in range(6)] == [0.25, 0.5, 0.75, 1.0, 0.5, 0.25]
    assert schedules.InvScaling(0.5).lr(7, 0.3, 99) == pytest.approx(0.03)
    plateau = schedules.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=0)
    rates = []
    for epoch, loss in enumerate([3, 2, 2, 2, 2, 2, 1]):
        rates.append(plateau.lr(epoch, 1.0, 0))
        plateau.update(epoch, {"loss": loss})
    assert rates == [1, 1, 1, 1, 0.5, 0.5, 0.25]


def test_history_records_every_epoch_and_the_schedule():
    X, y = _blobs()
    history = _classifier().fit(X, y, epochs=4, schedule=schedules.StepDecay(1, 0.5),
                                validation_data=(X, y), optimizer=fastbp.SGD(0.1))
    assert history.lr == [0.1, 0.05, 0.025, 0.0125]
    assert len(history.loss) == len(history.time) == len(history.val_metric) == 4
    assert set(history.history) == {"loss", "lr", "time", "val_loss", "val_accuracy"}
    assert history.loss[-1] < history.loss[0]


def test_history_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="History.plot needs the optional matplotlib")
    X, y = _blobs()
    history = _classifier().fit(X, y, epochs=3, validation_split=0.25)
    path = tmp_path / "loss.png"
    history.plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("verbose", [0, 1, 2])
def test_verbosity(verbose, capsys):
    X, y = _blobs()
    _classifier().fit(X, y, epochs=3, verbose=verbose, validation_split=0.2)
    captured = capsys.readouterr()
    if verbose == 0:
        assert captured.out == captured.err == ""
    elif verbose == 1:
        assert "3/3" in captured.err and "val_loss" in captured.err
    else:
        lines = captured.out.strip().splitlines()
        assert len(lines) == 3 and lines[-1].startswith("epoch 3/3") and "val_loss" in lines[-1]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"epochs": 0}, ValueError, "epochs must be a positive integer; got 0"),
    ({"batch_size": 0}, ValueError, "batch_size must be a positive integer; got 0"),
    ({"optimizer": "rmsprop"}, ValueError, r"unknown optimizer 'rmsprop'; expected one of"),
    ({"alpha": -1.0}, ValueError, "alpha must be a finite number >= 0; got -1.0"),
    ({"verbose": 3}, ValueError, "verbose must be 0, 1 or 2; got 3"),
    ({"validation_split": 1.5}, ValueError, r"validation_split must be in \(0, 1\); got 1.5"),
    ({"early_stopping": True}, ValueError, "needs validation_data or validation_split"),
    ({"schedule": "cosine"}, ValueError, "schedule must be a Schedule"),
    ({"shuffle": "yes"}, TypeError, "shuffle must be a bool"),
])
def test_bad_fit_arguments(kwargs, error, message):
    X, y = _blobs(n=20)
    with pytest.raises(error, match=message):
        _classifier().fit(X, y, **kwargs)


def test_bad_optimizer_hyperparameters():
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\); got 1.5"):
        fastbp.SGD(0.1, momentum=1.5)
    with pytest.raises(ValueError, match="lr must be a finite positive number; got -0.1"):
        fastbp.Adam(-0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastbp.Adam(0.1, beta_1=0.0)  # zero is a valid beta


def test_divergence_also_restores_the_optimizer_state():
    X, y = _line()
    model, _ = _fit_line(0.1, epochs=1)
    adam = fastbp.Adam(0.05)
    model.fit(X, y, epochs=3, batch_size=None, optimizer=adam, shuffle=False)
    state, steps = [s.copy() for s in adam.moments], adam.steps
    adam.lr = 1e200  # the next batch's squared error overflows, inside the first epoch
    with pytest.raises(fastbp.DivergenceError, match="in epoch 1:"):
        model.fit(X, y, epochs=3, batch_size=10, optimizer=adam, shuffle=False)
    assert adam.steps == steps
    for kept, saved in zip(adam.moments, state):
        np.testing.assert_array_equal(kept, saved)

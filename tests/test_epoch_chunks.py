"""Several epochs per backend call (``train_epochs``): bitwise the epochs of as many ``train_epoch``
calls, the orders ``rng.permutation`` draws, the rows it writes, where it stops, what it refuses;
and a fit trained in runs of epochs (fastbp/training/runs.py) against the same fit trained one
epoch per call, which is how the loop trained before runs."""

import threading
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info

import fastbp
from fastbp import schedules
from fastbp.kernels import cpu, reference
from fastbp.kernels.cpu import epoch as cpu_epoch, orders as cpu_orders, threads as cpu_threads
from fastbp.kernels.records import EpochRun
from fastbp.training import runs as training_runs
from helpers import epoch_arguments
from test_cpu_epoch import N, OPTIMIZERS, _state

BACKENDS = {"cpu": cpu, "reference": reference}
LRS = [0.01, 0.03, 0.002]
BIT_GENERATORS = [np.random.PCG64, np.random.MT19937, np.random.Philox, np.random.SFC64]


def _rows(state, epochs):
    """Empty rows for a run of ``epochs`` epochs of ``state`` (the fields of EpochRun from
    ``losses`` on)."""
    P, dtype = state["parameters"].shape[0], state["parameters"].dtype
    return (np.full(epochs, -7.0), np.full(epochs + 1, -7, np.int64),
            *(np.full((epochs + 1, P), -7, dtype) for _ in range(3)))


def _run(backend, state, rng=None, lrs=LRS, orders=None):
    """``train_epochs`` on ``state`` (changed in place); returns (epochs done, steps, run,
    orders)."""
    epochs = len(lrs)
    if orders is None:
        orders = np.empty((epochs, N), np.int64)
    run = EpochRun(np.array(lrs), rng, *_rows(state, epochs))
    arguments = list(epoch_arguments(state))
    arguments[2] = arguments[2]._replace(order=orders)
    done, steps = backend.train_epochs(*arguments, run)
    state["steps_taken"] = steps
    return done, steps, run, orders


def _rule_replayed(rule, losses):
    """Where ``fastbp.EarlyStopping`` on the training loss, with ``rule``'s patience, min_delta,
    best and wait, stops the fit on ``losses``: (epochs trained, best, wait), or None."""
    stopper = fastbp.EarlyStopping("loss", patience=int(rule[0]), min_delta=rule[1])
    stopper.best, stopper.wait = rule[2], int(rule[3])
    for epoch, loss in enumerate(losses):
        if stopper.update(epoch, {"loss": loss})[1]:
            return epoch + 1, stopper.best, stopper.wait
    return None


@pytest.mark.parametrize("name", list(BACKENDS))
def test_a_run_ends_where_its_stopping_rule_stops_the_fit(name):
    backend = BACKENDS[name]
    lrs = [0.05] * 12
    free, ruled = _state(np.float64, "adam"), _state(np.float64, "adam")
    orders = np.stack([np.random.default_rng(e).permutation(N) for e in range(len(lrs))])
    _, _, free_run, _ = _run(backend, free, lrs=lrs, orders=orders)
    # a min_delta the losses stop clearing part way through; the rule starts from a best and a
    # wait carried over from earlier runs
    gains = -np.diff(np.concatenate([[np.inf], free_run.losses]))
    min_delta = float(np.sort(gains)[len(gains) // 2])
    rule = np.array([3.0, min_delta, free_run.losses[0] + 1.0, 1.0, 0.0])
    expected = _rule_replayed(rule, free_run.losses)
    assert expected is not None and expected[0] < len(lrs), "the rule never stopped the fit"
    arguments = list(epoch_arguments(ruled))
    arguments[2] = arguments[2]._replace(order=orders)
    run = EpochRun(np.array(lrs), None, *_rows(ruled, len(lrs)), rule)
    done, steps = backend.train_epochs(*arguments, run)
    assert (done, rule[2], rule[3], rule[4]) == (expected[0], expected[1], expected[2], 1.0)
    assert steps == 4 * done
    np.testing.assert_array_equal(run.losses[:done], free_run.losses[:done])
    np.testing.assert_array_equal(run.parameters[:done + 1], free_run.parameters[:done + 1])
    np.testing.assert_array_equal(ruled["parameters"], free_run.parameters[done])
    assert np.all(run.steps[done + 1:] == -7), "the run wrote epochs past its stop"
    # a rule whose patience does not run out lets the run go to its end
    patient = np.array([np.inf, min_delta, np.inf, 0.0, 0.0])
    again = _state(np.float64, "adam")
    arguments = list(epoch_arguments(again))
    arguments[2] = arguments[2]._replace(order=orders)
    assert backend.train_epochs(*arguments, EpochRun(np.array(lrs), None, *_rows(again, len(lrs)),
                                                     patient))[0] == len(lrs)
    assert patient[4] == 0.0 and patient[2] == free_run.losses.min()


def _loop(backend, state, orders, lrs=LRS):
    """The same epochs as ``train_epoch`` calls; returns each epoch's loss and state."""
    losses, states = [], []
    for e, lr in enumerate(lrs):
        state["order"], state["lr"] = orders[e % len(orders)], lr
        loss, state["steps_taken"] = backend.train_epoch(*epoch_arguments(state))
        losses.append(loss)
        states.append({name: state[name].copy() for name in ("parameters", "moment_1",
                                                              "moment_2")})
        if not np.isfinite(loss):
            break
    return losses, states


@pytest.mark.parametrize("bit_generator", BIT_GENERATORS, ids=lambda g: g.__name__)
@pytest.mark.parametrize("n", [1, 2, 7, 1797, 2**16 + 3])
def test_the_cpu_orders_are_those_of_rng_permutation(bit_generator, n):
    ours, numpys = (np.random.Generator(bit_generator(11)) for _ in range(2))
    for rng in (ours, numpys):  # a half-used 32-bit draw left buffered in the state, too
        rng.integers(0, 2**32, dtype=np.uint32)
    drawn = np.empty((3, n), np.int64)
    # what a run draws with: the generator's addresses for the compiled draw, or, on the
    # public-API path, the orders drawn into the rows beforehand
    generator = cpu_orders.orders_for(ours, drawn)
    if generator != cpu_orders.NO_GENERATOR:
        for row in drawn:
            cpu_orders.draw_order(row, generator)
    expected = np.stack([numpys.permutation(n) for _ in range(3)])
    np.testing.assert_array_equal(drawn, expected)
    assert ours.integers(2**62) == numpys.integers(2**62)  # the generators are where they were
    assert ours.integers(0, 2**32, dtype=np.uint32) == numpys.integers(0, 2**32, dtype=np.uint32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("name", list(BACKENDS))
def test_a_run_is_bitwise_its_epochs_one_call_each(name, optimizer, dtype):
    backend = BACKENDS[name]
    one_call, per_epoch = _state(dtype, optimizer), _state(dtype, optimizer)
    start = {key: one_call[key].copy() for key in ("parameters", "moment_1", "moment_2")}
    done, steps, run, orders = _run(backend, one_call, rng=np.random.default_rng(5))
    assert done == len(LRS)
    rng = np.random.default_rng(5)
    np.testing.assert_array_equal(orders, [rng.permutation(N) for _ in LRS])
    losses, states = _loop(backend, per_epoch, orders)
    np.testing.assert_array_equal(run.losses, losses)
    assert steps == per_epoch["steps_taken"] == 4 * len(LRS)
    np.testing.assert_array_equal(run.steps, [0, 4, 8, 12])
    for key in ("parameters", "moment_1", "moment_2"):
        rows = getattr(run, key)
        np.testing.assert_array_equal(rows[0], start[key])
        for e, state in enumerate(states):
            np.testing.assert_array_equal(rows[e + 1], state[key])
        np.testing.assert_array_equal(one_call[key], per_epoch[key])
        assert rows.dtype == np.dtype(dtype)


def test_a_run_on_a_fixed_order_visits_it_every_epoch():
    fixed, per_epoch = _state(np.float64, "adam"), _state(np.float64, "adam")
    order = np.random.default_rng(3).permutation(N)[None, :]
    _, _, run, _ = _run(cpu, fixed, orders=order)
    losses, _ = _loop(cpu, per_epoch, order)
    np.testing.assert_array_equal(run.losses, losses)
    np.testing.assert_array_equal(fixed["parameters"], per_epoch["parameters"])


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_the_cpu_run_matches_the_reference(optimizer):
    ours, oracle = _state(np.float64, optimizer), _state(np.float64, optimizer)
    _, _, ours_run, _ = _run(cpu, ours, rng=np.random.default_rng(1))
    _, _, oracle_run, _ = _run(reference, oracle, rng=np.random.default_rng(1))
    np.testing.assert_allclose(ours_run.losses, oracle_run.losses, rtol=1e-9)
    for key in ("parameters", "moment_1", "moment_2"):
        np.testing.assert_allclose(getattr(ours_run, key), getattr(oracle_run, key), rtol=1e-9,
                                   atol=1e-12)


@pytest.mark.parametrize("shards", [(2, 1), (2, 2), (3, 3)])
def test_a_run_split_across_threads_is_bitwise_its_split_epochs(shards):
    one_call, per_epoch = _state(np.float64, "adam"), _state(np.float64, "adam")
    orders = np.stack([np.random.default_rng(e).permutation(N) for e in range(len(LRS))])
    run = EpochRun(np.array(LRS), None, *_rows(one_call, len(LRS)))
    arguments = list(epoch_arguments(one_call))
    arguments[2] = arguments[2]._replace(order=orders)
    with cpu_threads.training_session():
        done, _ = cpu_epoch.split_epochs(*shards, (*arguments, run), threads=max(shards))
        for e, lr in enumerate(LRS):
            per_epoch["order"], per_epoch["lr"] = orders[e], lr
            _, per_epoch["steps_taken"] = cpu_epoch.split_epoch(
                *shards, epoch_arguments(per_epoch), threads=max(shards))
    assert done == len(LRS)
    for key in ("parameters", "moment_1", "moment_2"):
        np.testing.assert_array_equal(one_call[key], per_epoch[key])


@pytest.mark.parametrize("name", list(BACKENDS))
def test_a_run_stops_in_the_epoch_whose_loss_diverges(name):
    backend = BACKENDS[name]
    state, per_epoch = _state(np.float64, "sgd-momentum"), _state(np.float64, "sgd-momentum")
    lrs = [0.01, 1e30, 1e30, 0.01]
    with np.errstate(over="ignore", invalid="ignore"):  # the reference warns of the overflow
        done, steps, run, orders = _run(backend, state, rng=np.random.default_rng(2), lrs=lrs)
        losses, states = _loop(backend, per_epoch, orders, lrs)
    assert 1 <= done < len(lrs) - 1 and len(losses) == done + 1
    assert np.isnan(losses[done]) and np.isnan(run.losses[done])
    np.testing.assert_array_equal(run.losses[:done], losses[:done])
    assert steps == per_epoch["steps_taken"] < 4 * (done + 1)  # where the epoch stopped
    for e in range(done):
        np.testing.assert_array_equal(run.parameters[e + 1], states[e]["parameters"])
    np.testing.assert_array_equal(state["parameters"], per_epoch["parameters"])
    assert run.losses[-1] == -7.0 and run.steps[-1] == -7  # nothing written past the stop


@pytest.mark.parametrize("name", list(BACKENDS))
def test_a_run_stops_after_an_epoch_whose_weights_overflow(name):
    """A finite loss, computed before the last update, with weights that update made infinite:
    the epoch is not counted, and its loss is reported."""
    backend = BACKENDS[name]
    state = _state(np.float64, "sgd-momentum")
    state["batch_size"] = N  # one batch: the epoch's loss is its loss before the update
    # a velocity that the step takes past the largest float wherever the gradient is negative
    state["moment_1"] = np.full_like(state["moment_1"], np.finfo(np.float64).max)
    start = state["parameters"].copy()
    with np.errstate(over="ignore", invalid="ignore"):
        done, steps, run, _ = _run(backend, state, lrs=[1e308, 0.01],
                                   rng=np.random.default_rng(0))
    assert done == 0 and np.isfinite(run.losses[0]) and steps == 1
    assert not np.all(np.isfinite(state["parameters"]))
    np.testing.assert_array_equal(run.parameters[0], start)
    assert run.steps[0] == 0 and run.losses[1] == -7.0


@pytest.mark.parametrize("name", list(BACKENDS))
def test_a_run_refuses_rows_that_do_not_fit(name):
    backend = BACKENDS[name]
    state = _state(np.float64, "adam")
    P = state["parameters"].shape[0]
    arguments = list(epoch_arguments(state))
    good = EpochRun(np.array(LRS), None, *_rows(state, 3))
    bad = {
        "run.parameters": good._replace(parameters=np.zeros((3, P))),
        "run.moment_2": good._replace(moment_2=np.zeros((4, P), np.float32)),
        "run.steps": good._replace(steps=np.zeros(4)),
        "run.losses": good._replace(losses=np.zeros(2)),
        "run.moment_1": good._replace(moment_1=np.zeros((P, 4)).T),
        "run.stop_rule": good._replace(stop_rule=np.zeros(4)),
    }
    for field, run in bad.items():
        arguments[2] = arguments[2]._replace(order=np.zeros((1, N), np.int64))
        with pytest.raises(ValueError, match=field.replace(".", r"\.")):
            backend.train_epochs(*arguments, run)
    for order, rng in ((np.zeros((2, N), np.int64), np.random.default_rng(0)),
                       (np.zeros(N, np.int64), None), (np.zeros((1, N), np.int32), None),
                       (np.zeros((0, N), np.int64), None)):
        arguments[2] = arguments[2]._replace(order=order)
        with pytest.raises(ValueError, match=r"batches\.order"):
            backend.train_epochs(*arguments, good._replace(rng=rng))
    assert np.all(state["parameters"] == _state(np.float64, "adam")["parameters"])


# ---- fits trained in runs -----------------------------------------------------------------------
def _data(n=240, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)


def _model(dtype="float64", dropout=0.0, backend="cpu"):
    return fastbp.Sequential([fastbp.Dense(6, 12, "tanh", dropout=dropout),
                              fastbp.Dense(12, 3, "softmax")], loss="cross_entropy",
                             dtype=dtype, seed=3, backend=backend)


class _Counted:
    """The model's backend with ``train_epochs`` counting the epochs of each call."""

    def __init__(self, kernels, calls):
        self._kernels, self._calls = kernels, calls

    def train_epochs(self, *args):
        self._calls.append(len(args[-1].lrs))
        return self._kernels.train_epochs(*args)

    def __getattr__(self, name):
        return getattr(self._kernels, name)


def _fit(monkeypatch, run_seconds, make, fit, speculation=1.0):
    """``fit(model)`` with runs as long as ``run_seconds`` of training (0: one epoch each);
    returns what it trained, and the epochs of each backend call."""
    monkeypatch.setattr(training_runs, "RUN_SECONDS", run_seconds)
    monkeypatch.setattr(training_runs, "SPECULATION", speculation)
    model = make()
    calls = []
    model._kernels = _Counted(model.kernels, calls)
    history, optimizer = fit(model)
    return {"history": {key: values for key, values in history.history.items()
                        if key != "time"},
            "ending": (history.stopped_early, history.best_epoch, history.epochs,
                       model.samples_seen, optimizer.steps),
            "arrays": [model.parameters.copy(), *optimizer.moments]}, calls


FITS = {
    "shuffled, dropout, float32": (
        lambda: _model("float32", dropout=0.3),
        lambda X, y, opt: dict(epochs=30, batch_size=32, optimizer=opt, seed=4)),
    "in order, SGD": (
        lambda: _model(),
        lambda X, y, opt: dict(epochs=30, batch_size=50, optimizer=opt, shuffle=False)),
    "early stopping, best weights": (
        lambda: _model(),
        lambda X, y, opt: dict(epochs=200, batch_size=16, optimizer=opt, seed=1,
                               validation_split=0.25, metrics=["accuracy"],
                               early_stopping=fastbp.EarlyStopping("val_loss", patience=3))),
    "plateau schedule (runs cut where the rate changes)": (
        lambda: _model(),
        lambda X, y, opt: dict(epochs=60, batch_size=20, optimizer=opt, seed=2,
                               schedule=schedules.ReduceLROnPlateau("loss", patience=2,
                                                                    min_delta=0.01))),
    "zero weights cutting epochs": (
        lambda: _model(),
        lambda X, y, opt: dict(epochs=12, batch_size=10, optimizer=opt, seed=2,
                               sample_weight=np.repeat([1.0, 0.0, 2.0], 80))),
    "reference backend": (
        lambda: _model(backend="numpy"),
        lambda X, y, opt: dict(epochs=8, batch_size=64, optimizer=opt, seed=2)),
}


@pytest.mark.parametrize("case", list(FITS))
def test_a_fit_in_runs_is_bitwise_the_fit_one_epoch_per_call(monkeypatch, case):
    make, settings = FITS[case]
    X, y = _data()

    def fit(model):
        optimizer = fastbp.SGD(0.05, momentum=0.9) if "SGD" in case else fastbp.Adam(0.01)
        return model.fit(X, y, **settings(X, y, optimizer)), optimizer

    epoch_by_epoch, one_each = _fit(monkeypatch, 0.0, make, fit)
    in_runs, runs = _fit(monkeypatch, 1e9, make, fit)
    if case == "zero weights cutting epochs":  # an epoch's runs of batches, a call each
        assert one_each == runs == []
    else:
        assert set(one_each) == {1}
        assert max(runs) > 1, "the fit trained no run of more than one epoch"
    assert in_runs["history"] == epoch_by_epoch["history"]
    assert in_runs["ending"] == epoch_by_epoch["ending"]
    for found, expected in zip(in_runs["arrays"], epoch_by_epoch["arrays"]):
        np.testing.assert_array_equal(found, expected)


ESTIMATORS = {
    "adaptive rate (cut runs)": (fastbp.MLPClassifier, dict(
        solver="sgd", learning_rate="adaptive", n_iter_no_change=2, tol=0.05,
        learning_rate_init=0.2, max_iter=80)),
    "early stopping": (fastbp.MLPClassifier, dict(early_stopping=True, n_iter_no_change=4,
                                                  max_iter=200)),
    "stopping on the loss": (fastbp.MLPClassifier, dict(learning_rate_init=0.05, max_iter=150,
                                                        tol=1e-3)),
    "diverging, finished by early stopping": (fastbp.MLPRegressor, dict(
        solver="sgd", learning_rate_init=50.0, early_stopping=True, n_iter_no_change=8,
        max_iter=40)),
}


@pytest.mark.parametrize("case", list(ESTIMATORS))
def test_an_estimator_in_runs_is_bitwise_the_one_epoch_per_call(monkeypatch, case):
    """scikit-learn's rules: its adaptive rate, its stopping rules, its diverging fits."""
    kind, settings = ESTIMATORS[case]
    X, y = _data(n=300)
    if kind is fastbp.MLPRegressor:
        y = 100 * X[:, 0]
    found = []
    for seconds in (0.0, 1e9):
        monkeypatch.setattr(training_runs, "RUN_SECONDS", seconds)
        monkeypatch.setattr(training_runs, "SPECULATION", 1.0)
        estimator = kind(hidden_layer_sizes=(9,), random_state=0, **settings)
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X, y)
        found.append(estimator)
    one_each, in_runs = found
    assert one_each.n_iter_ == in_runs.n_iter_
    if kind is fastbp.MLPRegressor:
        assert np.isnan(in_runs.loss_curve_[-1]), "the fit did not diverge"
    else:
        assert in_runs.n_iter_ < settings["max_iter"]
    np.testing.assert_array_equal(one_each.loss_curve_, in_runs.loss_curve_)
    for a, b in zip(one_each.coefs_ + one_each.intercepts_, in_runs.coefs_ + in_runs.intercepts_):
        np.testing.assert_array_equal(a, b)


def test_a_rule_on_the_training_loss_trains_no_epoch_past_its_stop(monkeypatch):
    """Runs under a rule on the training loss are not cut to its patience, and the backend stops
    them where it stops the fit: no epoch trained is thrown away (a rule on a validation figure
    runs no further than its patience, as the early-stopping case above checks)."""
    X, y = _data()
    trained = []
    real = cpu.train_epochs

    def counted(*args):
        done, steps = real(*args)
        trained.append((len(args[-1].lrs), done))
        return done, steps

    def fit(model):
        optimizer = fastbp.Adam(0.01)
        rule = fastbp.EarlyStopping("loss", patience=3, min_delta=0.02)
        return model.fit(X, y, epochs=300, batch_size=32, optimizer=optimizer, seed=1,
                         early_stopping=rule), optimizer

    epoch_by_epoch, _ = _fit(monkeypatch, 0.0, _model, fit)
    monkeypatch.setattr(cpu, "train_epochs", counted)
    # no run goes past what a rule certainly lets run, but one the backend applies
    in_runs, _ = _fit(monkeypatch, 1e9, _model, fit, speculation=0.0)
    kept = in_runs["ending"][2]
    assert in_runs["ending"][0] and kept < 300, "the rule did not stop the fit"
    assert sum(done for _, done in trained) == kept
    assert max(size for size, _ in trained) > 3, "the runs were cut to the patience"
    assert in_runs["history"] == epoch_by_epoch["history"]
    assert in_runs["ending"] == epoch_by_epoch["ending"]
    for found, expected in zip(in_runs["arrays"], epoch_by_epoch["arrays"]):
        np.testing.assert_array_equal(found, expected)


def test_run_sizes_follow_time_memory_and_the_stopping_rule(monkeypatch):
    monkeypatch.setattr(training_runs, "RUN_SECONDS", 0.1)
    monkeypatch.setattr(training_runs, "SPECULATION", 0.5)
    sizes = training_runs.RunSizes(row_bytes=1000, one_at_a_time=False)
    assert sizes.next(50) == 1  # until an epoch is timed
    sizes.timed(0.02, 2)  # 10 ms an epoch: 10 per run
    assert sizes.next(50) == 10 and sizes.next(4) == 4
    assert sizes.next(50, before_stop=3) == 5  # half a run past what the rule lets run
    assert sizes.next(50, before_stop=8) == 8
    # a slower run (its time holds a wait for the GIL) leaves the fastest epoch's figure; a
    # faster one takes its place
    sizes.timed(0.1, 2)
    assert sizes.next(50) == 10
    sizes.timed(0.01, 2)
    assert sizes.next(50) == 20
    assert training_runs.RunSizes(training_runs.MEMORY_BYTES // 4, False).most == 3
    assert training_runs.RunSizes(1000, one_at_a_time=True).most == 1
    # the fit's last epochs join a run where they would make less than half a run of their own
    assert sizes.next(24) == 24 and sizes.next(31) == 20
    # the calling thread's CPU time, where less than the run's time: the rest was a wait
    sizes.timed(0.1, 10, cpu_seconds=0.005)
    assert sizes.next(500) == 200


def test_a_fit_of_the_same_work_starts_from_the_time_per_row_measured(monkeypatch):
    monkeypatch.setattr(training_runs, "RUN_SECONDS", 0.1)
    monkeypatch.setattr(training_runs, "_SECONDS_PER_ROW", {})
    first = training_runs.RunSizes(1000, False, work=("network a", 100))
    assert first.next(500) == 1
    first.timed(0.01, 1)  # 1e-4 s per row
    same = training_runs.RunSizes(1000, False, work=("network a", 200))  # 20 ms an epoch
    assert same.next(500) == 5
    same.timed(0.1, 1)  # its own first timing replaces what it started from
    assert same.next(500) == 1
    assert training_runs.RunSizes(1000, False, work=("network b", 100)).next(500) == 1
    assert training_runs.RunSizes(1000, False).next(500) == 1


def test_the_stopping_rule_says_how_many_epochs_it_certainly_lets_run():
    rule = fastbp.EarlyStopping("loss", patience=3)
    assert rule.epochs_before_stop() == 3
    for epoch, loss in enumerate([1.0, 2.0, 2.0]):
        stops = rule.update(epoch, {"loss": loss})[1]
        assert rule.epochs_before_stop() == 3 - rule.wait
    assert not stops and rule.epochs_before_stop() == 1
    assert rule.update(3, {"loss": 2.0})[1]  # the one epoch it let run was its last


# ---- two fits at once ---------------------------------------------------------------------------
def test_blas_is_held_to_one_thread_in_a_session_of_any_thread():
    """A session that runs after one of the main thread's still holds BLAS to one thread (since
    threadpoolctl 3.8 only the first thread to limit OpenBLAS may change its limit), and the
    limit goes back once every session has ended."""
    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    with cpu_threads.training_session():
        pass
    seen = []

    def session():
        with cpu_threads.training_session():
            seen.extend(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

    threads = [threading.Thread(target=session) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen and set(seen) == {1}
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before


def test_two_fits_in_two_threads_train_as_each_alone():
    X, y = _data(n=400)

    def fit(seed):
        model = _model()
        model.fit(X, y, epochs=25, batch_size=16, seed=seed)
        return model.parameters.copy()

    alone = [fit(seed) for seed in (0, 1)]
    found = {}
    threads = [threading.Thread(target=lambda s=s: found.__setitem__(s, fit(s)))
               for s in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for seed in (0, 1):
        np.testing.assert_array_equal(found[seed], alone[seed])

"""The gradient-cost study's arithmetic: exact step counts, slope fitting, sizes, report.

The step counts are checked against two independent oracles: numbers worked out by hand for a
2-3-1 network, and a node-by-node Python implementation of backpropagation and central
differences that counts every step it takes (and whose gradients must equal fastbp's). No test
here asserts anything about time.
"""

import json
import math

import numpy as np
import pytest

from fastbp.studies import gradient_cost as gc
from fastbp.studies import gradient_cost_report as report


# ---- exact step counts --------------------------------------------------------------------------
def test_counts_of_a_2_3_1_network_match_hand_computation():
    # 2 inputs -> 3 hidden -> 1 output.
    # N = 3 + 1 = 4 computing nodes; P = (2*3 + 3) + (3*1 + 1) = 13; E_hidden = 3*1 = 3.
    # forward  = N + P = 17
    # backward = N (deltas) + P (parameter gradients) + E_hidden (deltas sent back) = 20
    # backprop = 37; finite differences = 2 * 13 forward passes * 17 = 442
    counts = gc.step_counts((2, 3, 1))
    assert (counts.n_nodes, counts.n_params, counts.n_hidden_edges) == (4, 13, 3)
    assert (counts.forward, counts.backward, counts.backprop, counts.numerical) == (17, 20, 37, 442)
    assert counts.ratio == pytest.approx(442 / 37)


class _CountingMLP:
    """Backpropagation and central differences node by node, counting every elementary step.

    Counts follow the study's model: a multiply-add per weight or bias and an activation per node
    in the forward pass; a delta per node, a multiply-add per parameter gradient and one per
    weight leaving a hidden node in the backward pass. The loss is not counted.
    """

    def __init__(self, Ws, bs):
        self.Ws, self.bs = Ws, bs
        self.steps = 0

    def forward(self, x):
        """Activations of every layer for one sample (tanh hidden, identity output)."""
        activations = [list(x)]
        for layer, (W, b) in enumerate(zip(self.Ws, self.bs)):
            last = layer == len(self.Ws) - 1
            out = []
            for j in range(W.shape[1]):
                z = 0.0
                for i in range(W.shape[0]):
                    z += activations[-1][i] * W[i, j]
                    self.steps += 1
                z += b[j] * 1.0
                self.steps += 1
                out.append(z if last else math.tanh(z))
                self.steps += 1
            activations.append(out)
        return activations

    def loss(self, X, Y):
        """Squared error: 1/2 the mean over samples and outputs of (a - y)^2."""
        total = 0.0
        for x, y in zip(X, Y):
            a = self.forward(x)[-1]
            total += sum(0.5 * (ai - yi) ** 2 for ai, yi in zip(a, y))
        return total / (len(X) * len(Y[0]))

    def gradients(self, X, Y):
        dWs = [np.zeros_like(W) for W in self.Ws]
        dbs = [np.zeros_like(b) for b in self.bs]
        scale = 1.0 / (len(X) * len(Y[0]))
        for x, y in zip(X, Y):
            activations = self.forward(x)
            grad = [(a - t) * scale for a, t in zip(activations[-1], y)]  # dL/da of the outputs
            for layer in range(len(self.Ws) - 1, -1, -1):
                W, last = self.Ws[layer], layer == len(self.Ws) - 1
                out, inp = activations[layer + 1], activations[layer]
                delta = []
                for j in range(W.shape[1]):
                    delta.append(grad[j] * (1.0 if last else 1.0 - out[j] ** 2))
                    self.steps += 1
                for j in range(W.shape[1]):
                    for i in range(W.shape[0]):
                        dWs[layer][i, j] += inp[i] * delta[j]
                        self.steps += 1
                    dbs[layer][j] += delta[j]
                    self.steps += 1
                if layer > 0:  # the first layer's inputs are data: nothing to send back
                    grad = [0.0] * W.shape[0]
                    for i in range(W.shape[0]):
                        for j in range(W.shape[1]):
                            grad[i] += W[i, j] * delta[j]
                            self.steps += 1
        return dWs, dbs

    def numerical_gradients(self, X, Y, eps=1e-6):
        grads = []
        for param in [*self.Ws, *self.bs]:
            grad = np.zeros_like(param)
            for index in np.ndindex(param.shape):
                original = param[index]
                param[index] = original + eps
                plus = self.loss(X, Y)
                param[index] = original - eps
                minus = self.loss(X, Y)
                param[index] = original
                grad[index] = (plus - minus) / (2 * eps)
            grads.append(grad)
        return grads


@pytest.mark.parametrize("widths", [(2, 3, 1), (3, 4, 2, 2), (1, 5, 3, 4, 2)])
def test_counts_match_a_counting_implementation_that_reproduces_fastbps_gradients(widths):
    n_samples = 3
    case = gc.Case("P", widths, n_samples)
    model, X, y = gc.build(case, seed=1)
    oracle = _CountingMLP([layer.W.copy() for layer in model.layers],
                          [layer.b.copy() for layer in model.layers])
    counts = gc.step_counts(widths)

    dWs, dbs = oracle.gradients(X, y)
    assert oracle.steps == n_samples * counts.backprop
    for (dW, db), expected_dW, expected_db in zip(model.gradients(X, y), dWs, dbs):
        np.testing.assert_allclose(dW, expected_dW, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(db, expected_db, rtol=1e-10, atol=1e-14)

    oracle.steps = 0
    numerical = oracle.numerical_gradients(X, y)
    assert oracle.steps == n_samples * counts.numerical
    np.testing.assert_allclose(np.concatenate([g.ravel() for g in numerical]),
                               np.concatenate([g.ravel() for g in [*dWs, *dbs]]),
                               rtol=1e-5, atol=1e-9)


def test_counts_reject_too_few_or_non_positive_widths():
    with pytest.raises(ValueError, match="at least two positive"):
        gc.step_counts((5,))
    with pytest.raises(ValueError, match="at least two positive"):
        gc.step_counts((5, 0, 1))


def test_backprop_steps_lie_between_two_and_three_times_n_plus_p():
    for widths in [(16, h, 4) for h in (1, 10, 1000)] + [(8, 64, 64, 64, 10)]:
        c = gc.step_counts(widths)
        assert 2 * (c.n_nodes + c.n_params) <= c.backprop <= 3 * (c.n_nodes + c.n_params)


# ---- slope fitting ------------------------------------------------------------------------------
def test_fit_slope_recovers_exact_power_laws():
    x = np.array([100.0, 300.0, 1_000.0, 10_000.0])
    for exponent in (0.0, 1.0, 2.0, 1.7):
        assert gc.fit_slope(x, 3e-6 * x**exponent) == pytest.approx(exponent, abs=1e-12)


def test_fit_slope_on_noisy_synthetic_data_is_close_to_the_true_exponent():
    rng = np.random.default_rng(7)
    x = np.geomspace(100, 20_000, 12)
    y = 1e-7 * x**2 * np.exp(rng.normal(0, 0.05, x.size))  # 5% multiplicative noise
    assert gc.fit_slope(x, y) == pytest.approx(2.0, abs=0.05)


def test_fit_slope_through_two_points_is_the_secant_slope():
    # a fixed cost plus a linear one: the fixed cost flattens the slope below 1
    y1, y2 = 1e-5 + 1e-7 * 100, 1e-5 + 1e-7 * 10_000
    expected = math.log(y2 / y1) / math.log(100)  # = log(101/2) / log(100) = 0.8517...
    assert gc.fit_slope([100, 10_000], [y1, y2]) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("x, y, match", [
    ([1.0], [1.0], "length >= 2"),
    ([1.0, 2.0], [1.0], "same length"),
    ([1.0, 2.0], [1.0, 0.0], "positive"),
    ([1.0, -2.0], [1.0, 1.0], "positive"),
    ([1.0, np.nan], [1.0, 1.0], "finite"),
    ([3.0, 3.0], [1.0, 2.0], "distinct"),
])
def test_fit_slope_rejects_unusable_data(x, y, match):
    with pytest.raises(ValueError, match=match):
        gc.fit_slope(x, y)


# ---- the sizes studied --------------------------------------------------------------------------
@pytest.mark.parametrize("profile", sorted(gc.PROFILES))
def test_each_profile_sweeps_p_over_two_orders_of_magnitude(profile):
    p = [c.counts.n_params for c in gc.cases(profile) if c.sweep == "P"]
    assert p == sorted(p) and p[-1] / p[0] >= 100


@pytest.mark.parametrize("profile", sorted(gc.PROFILES))
def test_each_profile_grows_n_at_nearly_fixed_p(profile):
    sweep = [c for c in gc.cases(profile) if c.sweep == "N"]
    nodes = [c.counts.n_nodes for c in sweep]
    params = [c.counts.n_params for c in sweep]
    target = gc.PROFILES[profile]["n_params"]
    assert nodes == sorted(set(nodes)) and nodes[-1] / nodes[0] >= 10
    assert all(abs(p - target) / target < 0.05 for p in params), params


def test_n_sweep_solves_the_input_width_for_the_requested_p():
    (case,) = gc.n_sweep(n_params=1_004, hidden_widths=(10,), n_outputs=4, n_samples=2)
    d, h, k = case.widths
    assert (d, h, k) == (95, 10, 4) and d * h + h + h * k + k == 1_004 == case.counts.n_params
    with pytest.raises(ValueError, match="no input width"):
        gc.n_sweep(n_params=50, hidden_widths=(100,), n_outputs=4, n_samples=2)


def test_unknown_profile_is_rejected():
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        gc.cases("huge")


# ---- measuring (no assertion on time) -----------------------------------------------------------
def test_gradient_error_is_relative_to_the_largest_backprop_gradient():
    backprop = [(np.array([[2.0, -4.0]]), np.array([1.0, 0.0]))]
    numerical = [(np.array([[2.0, -4.0]]), np.array([1.0, 0.02]))]
    assert gc.gradient_error(numerical, backprop) == pytest.approx(0.02 / 4.0)


def test_best_time_runs_until_its_budget_or_round_limit():
    calls = []
    assert gc.best_time(lambda: calls.append(1), min_time=0.0)[1] == 1 == len(calls)
    seconds, rounds = gc.best_time(lambda: calls.append(1), min_time=3600.0, max_rounds=7)
    assert rounds == 7 and len(calls) == 8 and seconds >= 0.0


def test_measure_checks_both_gradients_on_a_small_case():
    m = gc.measure(gc.Case("P", (3, 5, 2), 4), min_time=0.0)
    assert m.gradient_error <= gc.GRADIENT_TOLERANCE
    assert m.rounds == dict(forward=1, backprop=1, numerical=1)
    assert min(m.forward_s, m.backprop_s, m.numerical_s) > 0


# ---- the study's report -------------------------------------------------------------------------
def _synthetic_study(numerical_exponent):
    """A Study of made-up times: forward 100 us * P/P0, backprop 2.5x that, FD ~ P^exponent."""
    cases = gc.p_sweep((10, 100, 1_000), 16, 4, 8) + gc.n_sweep(2_000, (10, 100), 4, 8)
    p0 = cases[0].counts.n_params
    measurements = []
    for case in cases:
        p = case.counts.n_params
        forward = 1e-4 * p / p0
        measurements.append(gc.Measurement(case, forward, 2.5 * forward,
                                           5e-3 * (p / p0) ** numerical_exponent,
                                           dict(forward=3, backprop=3, numerical=1), 1e-9))
    return gc.Study("quick", 1, measurements, 1.0)


def test_study_slopes_and_targets_on_synthetic_times():
    study = _synthetic_study(2.0)
    assert study.slopes["forward"] == pytest.approx(1.0)
    assert study.slopes["backprop"] == pytest.approx(1.0)
    assert study.slopes["numerical"] == pytest.approx(2.0)
    assert [passed for _, _, passed in study.targets()] == [True, True, True]
    fd_slope, gap, _ = [passed for _, _, passed in _synthetic_study(1.5).targets()]
    assert (fd_slope, gap) == (False, False)


def test_report_prints_measured_counts_beside_the_worked_example():
    text = report.format_report(_synthetic_study(2.0))
    assert "10,000  100,000  110,000  1,000,000,000" in text  # worked example, case 9
    c = gc.step_counts((16, 1_000, 4))
    assert f"{c.backprop:,}" in text and f"{c.numerical:,}" in text
    assert "[pass] finite-difference slope >= 1.7: 2.00" in text
    assert "[FAIL]" in report.format_report(_synthetic_study(1.5))


def test_json_holds_every_measurement_and_survives_a_round_trip():
    study = _synthetic_study(2.0)
    data = json.loads(json.dumps(report.to_json(study, machine={"numpy": "x"})))
    assert len(data["measurements"]) == len(study.measurements)
    first = data["measurements"][0]
    assert (first["N"], first["P"], first["steps_numerical"]) == (14, 214, 2 * 214 * 228)
    assert data["slopes"]["numerical"] == pytest.approx(2.0)
    assert data["worked_example"] == dict(N=10_000, P=100_000, N_plus_P=110_000,
                                          N_times_P=1_000_000_000)


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib (the 'plot' extra) is not installed")
    path = tmp_path / "cost.png"
    report.plot(_synthetic_study(2.0), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

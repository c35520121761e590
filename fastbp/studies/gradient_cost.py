"""The gradient-cost study: backpropagation against one-parameter-at-a-time finite differences.

Backpropagation computes every derivative of a network with ``N`` nodes and ``P`` parameters in
about ``N + P`` elementary steps; central differences need two forward passes per parameter, about
``N x P``. This module counts both exactly, times both (and one forward pass, for scale) on real
networks through the public API, and fits the log-log slope of time against ``P``. The ``fastbp
bench gradient-cost`` command and ``benchmarks/test_gradient_cost.py`` are thin layers over it.

Step-count model, per sample (an MLP whose every unit has a bias)
-----------------------------------------------------------------
* forward: each of the ``P`` parameters takes part in one multiply-add (a weight times its input,
  a bias times 1) and each of the ``N`` computing nodes applies its activation once:
  ``N + P``.
* backward: each node forms its delta once (``N``), each parameter receives its gradient by one
  multiply-add (``P``), and each weight whose source is a hidden node sends the delta back by one
  more multiply-add (``E_hidden``): ``N + P + E_hidden``.
* backpropagation = forward + backward = ``2 (N + P) + E_hidden``, between 2 and 3 times ``N + P``.
* finite differences = two forward passes per parameter: ``2 P (N + P)``.

Input units are not nodes (nothing evaluates them). The loss itself (one term per output per pass)
is left out of both counts.
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np

#: Hidden activation of every studied network: smooth, so that central differences agree with
#: backpropagation to about 1e-9 in float64 (a ReLU kink inside the step would spoil the check).
HIDDEN_ACTIVATION = "tanh"

#: Largest ``max|numerical - backprop| / max|backprop|`` accepted by the in-study gradient check.
GRADIENT_TOLERANCE = 1e-6

#: Case 9 of docs/worked-examples.md: N, P, N + P, N x P.
WORKED_EXAMPLE = (10_000, 100_000, 110_000, 1_000_000_000)


# ---- counting -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepCounts:
    """Exact elementary-step counts of one MLP (see the module docstring for the model).

    Attributes
    ----------
    widths : tuple of int
        ``(n_inputs, hidden..., n_outputs)``.
    n_nodes : int
        ``N``, the computing units (hidden and output).
    n_params : int
        ``P``, weights and biases.
    n_hidden_edges : int
        ``E_hidden``, weights whose source is a hidden node.
    """

    widths: tuple
    n_nodes: int
    n_params: int
    n_hidden_edges: int

    @property
    def forward(self):
        """Steps of one forward pass per sample: ``N + P``."""
        return self.n_nodes + self.n_params

    @property
    def backward(self):
        """Steps of one backward pass per sample: ``N + P + E_hidden``."""
        return self.n_nodes + self.n_params + self.n_hidden_edges

    @property
    def backprop(self):
        """Steps of backpropagation (forward + backward) per sample."""
        return self.forward + self.backward

    @property
    def numerical(self):
        """Steps of central differences per sample: two forward passes for each of ``P``."""
        return 2 * self.n_params * self.forward

    @property
    def ratio(self):
        """``numerical / backprop``: between ``2P/3`` and ``P``."""
        return self.numerical / self.backprop


def step_counts(widths):
    """Exact step counts of the MLP with layer widths ``widths``.

    Parameters
    ----------
    widths : sequence of int, length >= 2
        ``(n_inputs, hidden..., n_outputs)``.

    Returns
    -------
    StepCounts
    """
    widths = tuple(int(w) for w in widths)
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"widths must be at least two positive layer sizes; got {widths}")
    pairs = list(zip(widths[:-1], widths[1:]))
    return StepCounts(widths=widths,
                      n_nodes=sum(widths[1:]),
                      n_params=sum(n_in * n_out + n_out for n_in, n_out in pairs),
                      n_hidden_edges=sum(n_in * n_out for n_in, n_out in pairs[1:]))


# ---- the networks studied -----------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One network of the study and the batch it is differentiated on.

    Attributes
    ----------
    sweep : {"P", "N"}
        Which sweep the case belongs to.
    widths : tuple of int
        ``(n_inputs, hidden..., n_outputs)``.
    n_samples : int
        Batch size of every timed call.
    """

    sweep: str
    widths: tuple
    n_samples: int

    @property
    def counts(self):
        return step_counts(self.widths)

    @property
    def label(self):
        return f"{self.sweep}-sweep " + "-".join(map(str, self.widths)) + f" n={self.n_samples}"


def p_sweep(hidden_widths, n_inputs, n_outputs, n_samples):
    """One-hidden-layer networks ``n_inputs -> h -> n_outputs``, one per ``h``.

    ``N`` and ``P`` both grow in proportion to ``h``, with ``N / P`` about ``1 / (n_inputs +
    n_outputs + 1)`` throughout, so the forward pass does the same kind of work at every size.
    """
    return [Case("P", (n_inputs, h, n_outputs), n_samples) for h in hidden_widths]


def n_sweep(n_params, hidden_widths, n_outputs, n_samples):
    """Networks ``d -> h -> n_outputs`` with ``P`` near ``n_params`` and ``N = h + n_outputs``.

    The input width ``d`` is solved for each ``h`` so that ``P = d h + h + h n_outputs + n_outputs``
    is as close to ``n_params`` as whole numbers allow; the exact ``P`` of each case is reported.
    """
    cases = []
    for h in hidden_widths:
        d = round((n_params - n_outputs - h - h * n_outputs) / h)
        if d < 1:
            raise ValueError(f"no input width gives P={n_params} with {h} hidden units")
        cases.append(Case("N", (d, h, n_outputs), n_samples))
    return cases


#: Sizes of the two profiles. Both P sweeps span more than 100x in P. Finite differences cost about
#: n P^2, so the batch is small, yet large enough that even the smallest network's forward pass is
#: mostly arithmetic: a fixed cost per call dominating there would flatten the FD slope.
PROFILES = {
    "quick": dict(p_hidden=(4, 8, 16, 32, 64, 128, 256, 512), n_params=2_000,
                  n_hidden=(10, 20, 40, 80, 160, 320), n_inputs=16, n_outputs=4, n_samples=32),
    "full": dict(p_hidden=(4, 8, 16, 32, 64, 128, 256, 512, 1024), n_params=4_000,
                 n_hidden=(10, 20, 40, 80, 160, 320, 640), n_inputs=16, n_outputs=4,
                 n_samples=32),
}


def cases(profile):
    """Every case of a profile: the P sweep, then the N sweep.

    Parameters
    ----------
    profile : {"quick", "full"}

    Returns
    -------
    list of Case
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {list(PROFILES)}")
    p = PROFILES[profile]
    return (p_sweep(p["p_hidden"], p["n_inputs"], p["n_outputs"], p["n_samples"])
            + n_sweep(p["n_params"], p["n_hidden"], p["n_outputs"], p["n_samples"]))


def build(case, seed=0, dtype="float64", backend="cpu"):
    """The case's model and a random regression batch for it (the same for every backend).

    Returns
    -------
    model : Sequential
        ``tanh`` hidden layers, identity output, ``squared_error``.
    X : ndarray, shape (n_samples, n_inputs)
    y : ndarray, shape (n_samples, n_outputs)
    """
    from ..layers import Dense
    from ..model import Sequential

    widths = case.widths
    layers = [Dense(n_in, n_out, HIDDEN_ACTIVATION if i < len(widths) - 2 else "identity")
              for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:]))]
    model = Sequential(layers, loss="squared_error", dtype=dtype, backend=backend, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((case.n_samples, widths[0])).astype(dtype)
    y = rng.standard_normal((case.n_samples, widths[-1])).astype(dtype)
    return model, X, y


# ---- measuring ----------------------------------------------------------------------------------
def best_time(fn, min_time=0.2, max_rounds=10_000):
    """Fastest of repeated calls of ``fn()``: rounds run until ``min_time`` seconds are spent.

    The minimum is the estimate least disturbed by other processes on a shared machine.

    Returns
    -------
    seconds : float
    rounds : int
    """
    best, spent, rounds = math.inf, 0.0, 0
    while rounds < max_rounds and (rounds == 0 or spent < min_time):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best, spent, rounds = min(best, elapsed), spent + elapsed, rounds + 1
    return best, rounds


def gradient_error(numerical, backprop):
    """``max |numerical - backprop| / max |backprop|`` over every parameter.

    Parameters
    ----------
    numerical, backprop : list of (dW, db)
        As returned by ``Sequential.numerical_gradients`` and ``Sequential.gradients`` (any two
        gradient lists: the second is the one the difference is measured against).
    """
    a = np.concatenate([g.ravel() for pair in numerical for g in pair])
    b = np.concatenate([g.ravel() for pair in backprop for g in pair])
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), np.finfo(b.dtype).tiny))


@dataclass
class Measurement:
    """Timings of one case, in seconds (fastest round), and the gradient check's error."""

    case: Case
    forward_s: float
    backprop_s: float
    numerical_s: float
    rounds: dict
    gradient_error: float

    @property
    def numerical_over_backprop(self):
        return self.numerical_s / self.backprop_s

    @property
    def backprop_over_forward(self):
        return self.backprop_s / self.forward_s


def measure(case, seed=0, min_time=0.2):
    """Time one forward pass, backpropagation and finite differences on ``case`` (float64).

    Every kernel is compiled by an untimed call first. The finite-difference gradients of the last
    timed round are checked against backpropagation's.

    Raises
    ------
    AssertionError
        If the two gradients differ by more than :data:`GRADIENT_TOLERANCE` (relative).
    """
    model, X, y = build(case, seed)
    model.forward(X)  # compiles dense_forward and allocates the batch's buffers
    backprop = model.gradients(X, y)  # compiles the backward and loss kernels
    numerical = []

    def numerical_once():
        numerical[:] = [model.numerical_gradients(X, y)]

    forward_s, forward_rounds = best_time(lambda: model.forward(X), min_time)
    backprop_s, backprop_rounds = best_time(lambda: model.gradients(X, y), min_time)
    numerical_s, numerical_rounds = best_time(numerical_once, min_time)
    error = gradient_error(numerical[0], backprop)
    if not error <= GRADIENT_TOLERANCE:
        raise AssertionError(f"{case.label}: finite differences and backpropagation differ by "
                             f"{error:.2e} (relative), more than {GRADIENT_TOLERANCE:.0e}")
    return Measurement(case, forward_s, backprop_s, numerical_s,
                       dict(forward=forward_rounds, backprop=backprop_rounds,
                            numerical=numerical_rounds), error)


def fit_slope(x, y):
    """Least-squares slope of ``log y`` against ``log x``.

    Parameters
    ----------
    x, y : array-like of positive float, shape (n,), n >= 2, ``x`` not all equal

    Returns
    -------
    float
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.size < 2:
        raise ValueError(f"x and y must be 1D of the same length >= 2; got shapes {x.shape} and "
                         f"{y.shape}")
    if not (np.all(x > 0) and np.all(y > 0) and np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite and positive to take logarithms")
    if np.ptp(x) == 0:
        raise ValueError("x must take at least two distinct values")
    slope, _ = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope)


# ---- the study ----------------------------------------------------------------------------------
#: Acceptance targets of the study: FD slope, its excess over backprop's, backprop/forward ceiling
#: where a forward pass takes longer than the floor.
MIN_NUMERICAL_SLOPE = 1.7
MIN_SLOPE_GAP = 0.7
MAX_BACKPROP_OVER_FORWARD = 3.5
FORWARD_FLOOR_S = 50e-6


@dataclass
class Study:
    """Every measurement of one profile, with the fitted slopes and the acceptance checks."""

    profile: str
    blas_threads: int
    measurements: list
    seconds: float
    slopes: dict = field(init=False)

    def __post_init__(self):
        p = self.sweep("P")
        params = [m.case.counts.n_params for m in p]
        self.slopes = {method: fit_slope(params, [getattr(m, f"{method}_s") for m in p])
                       for method in ("forward", "backprop", "numerical")}

    def sweep(self, name):
        """The measurements of the ``"P"`` or the ``"N"`` sweep, in order."""
        return [m for m in self.measurements if m.case.sweep == name]

    def targets(self):
        """The acceptance checks as ``(description, measured, passed)`` triples."""
        fd, bp = self.slopes["numerical"], self.slopes["backprop"]
        heavy = [m for m in self.measurements if m.forward_s > FORWARD_FLOOR_S]
        worst = max((m.backprop_over_forward for m in heavy), default=float("nan"))
        return [
            (f"finite-difference slope >= {MIN_NUMERICAL_SLOPE}", f"{fd:.2f}",
             fd >= MIN_NUMERICAL_SLOPE),
            (f"FD slope - backprop slope >= {MIN_SLOPE_GAP}", f"{fd - bp:.2f}",
             fd - bp >= MIN_SLOPE_GAP),
            (f"backprop/forward <= {MAX_BACKPROP_OVER_FORWARD} where forward > "
             f"{FORWARD_FLOOR_S * 1e6:.0f} us ({len(heavy)} sizes)",
             f"max {worst:.2f}", bool(heavy) and worst <= MAX_BACKPROP_OVER_FORWARD),
        ]


def run_study(profile="full", seed=0, blas_threads=1, progress=None):
    """Measure every case of ``profile``.

    Parameters
    ----------
    profile : {"quick", "full"}
    seed : int
    blas_threads : int or None
        BLAS threads during the study; 1 (the default) times the sequential work the step counts
        describe, and leaves the figures less exposed to other processes' load. None leaves BLAS
        as it is.
    progress : callable or None
        Called as ``progress(measurement)`` after each case is measured.

    Returns
    -------
    Study
    """
    from threadpoolctl import threadpool_limits

    todo = cases(profile)
    start = time.perf_counter()
    measurements = []
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        for case in todo:
            measurements.append(measure(case, seed))
            if progress is not None:
                progress(measurements[-1])
    return Study(profile, blas_threads, measurements, time.perf_counter() - start)

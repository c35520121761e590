"""How much a fit waits for the GIL: beside a busy pure-Python thread, and beside a second fit.

Beside a thread that never releases the GIL by itself (``while not stop: x += 1``), every time a
fit takes the GIL back (after a compiled call, or a NumPy operation on an array large enough for
NumPy to release it) it waits up to the interpreter's switch interval (5 ms). A fit that takes the
GIL back a fixed few times runs nearly as fast beside such a thread as alone.

``python -m benchmarks.gil_probe busy digits`` prints the digits fit (``MLPClassifier
(hidden_layer_sizes=(128,), max_iter=100)`` on scikit-learn's digits) alone and beside a busy
thread, interleaved, in this process; ``busy wide`` the same for a 40,000 x 100 float32 set and a
100-256-128-10 network trained 3 epochs; ``pair digits`` two digits fits in two threads against
the same two one after the other, checking that the weights are bitwise those of a fit alone;
``trace digits`` (or ``wide``) where the fit beside a busy thread waits (:func:`trace`).
``python -m benchmarks.gil_probe all`` runs each in ``PROCESSES`` fresh processes and reports the
best ratio of each (set ``NUMBA_NUM_THREADS=1`` for one thread per fit). Timings are same-run
ratios; the machine's other load shifts them: where it leaves fewer than two free cores, the busy
thread also takes CPU time from the fit, and ``gil_ratio`` (beside the busy Python thread against
beside a thread as busy in compiled code, without the GIL) is the part the GIL costs.
"""

import json
import os
import subprocess
import sys
import threading
import time
import warnings

import numpy as np

#: Fresh processes per figure in ``all``, and rounds (alone and beside) within each.
PROCESSES = 3
ROUNDS = 3


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X, y, dict(hidden_layer_sizes=(128,), max_iter=100)


def _wide():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40_000, 100)).astype(np.float32)
    y = rng.integers(0, 10, 40_000)
    return X, y, dict(hidden_layer_sizes=(256, 128), max_iter=3)


CASES = {"digits": _digits, "wide": _wide}


def _fit(case, seed=0):
    """One estimator fit of ``case`` (X, y, settings); returns (seconds, fitted estimator)."""
    from fastbp import MLPClassifier

    X, y, settings = case
    estimator = MLPClassifier(random_state=seed, **settings)
    start = time.perf_counter()
    estimator.fit(X, y)
    return time.perf_counter() - start, estimator


class BusyThread:
    """Context with a thread spinning beside the caller: in pure Python (it releases the GIL only
    when the interpreter makes it, every switch interval), or, ``holding_gil=False``, in compiled
    code without the GIL, which takes a core just the same: on a machine whose other load leaves
    fewer free cores than two, the ratio of the two times is the part the GIL costs."""

    def __init__(self, holding_gil=True):
        self.holding_gil = holding_gil

    def __enter__(self):
        self.stop = np.zeros(1, np.int64)
        target = self._spin if self.holding_gil else _spin_without_gil()
        self.thread = threading.Thread(target=target, args=(self.stop,), daemon=True)
        self.thread.start()
        time.sleep(0.01)
        return self

    @staticmethod
    def _spin(stop):
        x = 0
        while not stop[0]:
            x += 1

    def __exit__(self, *exc):
        self.stop[0] = 1
        self.thread.join()


def _spin_without_gil():
    """A compiled function that spins without the GIL until ``stop[0]`` is set (read with an
    atomic load each time round, so that the compiler cannot hoist it out of the loop)."""
    import numba
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    @intrinsic
    def load(typingctx, array):
        def codegen(context, builder, signature, args):
            ary = context.make_array(signature.args[0])(context, builder, args[0])
            pointer = cgutils.get_item_pointer(context, builder, signature.args[0], ary,
                                               [context.get_constant(types.intp, 0)])
            return builder.load_atomic(pointer, "acquire", 8)
        return types.int64(array), codegen

    @numba.njit(nogil=True)
    def spin(stop):
        x = 0
        while load(stop) == 0:
            x += 1
        return x

    spin(np.ones(1, np.int64))  # compiled before it is timed
    return spin


def busy(name):
    """Alone, beside a busy Python thread and beside a thread as busy without the GIL,
    interleaved; returns the best of each and their ratios."""
    case = CASES[name]()
    _fit(case)  # compile, or load from the disk cache
    _spin_without_gil()
    alone, beside, beside_nogil = [], [], []
    for _ in range(ROUNDS):
        alone.append(_fit(case)[0])
        with BusyThread():
            beside.append(_fit(case)[0])
        with BusyThread(holding_gil=False):
            beside_nogil.append(_fit(case)[0])
    return {"alone_s": min(alone), "beside_s": min(beside), "beside_nogil_s": min(beside_nogil),
            "ratio": min(beside) / min(alone), "gil_ratio": min(beside) / min(beside_nogil)}


def pair(name):
    """Two fits in two threads against the two one after the other (best of each)."""
    case = CASES[name]()
    _fit(case)
    sequential, together, same = [], [], True
    for _ in range(ROUNDS):
        start = time.perf_counter()
        alone = [_fit(case, seed)[1] for seed in (0, 1)]
        sequential.append(time.perf_counter() - start)
        found = {}

        def run(seed):
            found[seed] = _fit(case, seed)[1]

        threads = [threading.Thread(target=run, args=(seed,)) for seed in (0, 1)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        together.append(time.perf_counter() - start)
        for seed, estimator in zip((0, 1), alone):
            same &= all(np.array_equal(a, b) for a, b in
                        zip(estimator.coefs_ + estimator.intercepts_,
                            found[seed].coefs_ + found[seed].intercepts_))
            same &= estimator.loss_curve_ == found[seed].loss_curve_
    return {"sequential_s": min(sequential), "threads_s": min(together),
            "speedup": min(sequential) / min(together), "bitwise_same": bool(same)}


def trace(name):
    """Where the fit waits beside a busy thread: each gap of over ``TRACE_GAP_S`` between two
    events that a profiling hook (``sys.setprofile``) sees in the fit's thread, with where it
    fell. A gap longer than twice the switch interval is a run of epochs and the wait after it;
    the others are waits for the GIL after a NumPy call released it (or the interpreter made the
    fit hand it over). The hook's own cost makes the fit slower: count the gaps, not the time."""
    case = CASES[name]()
    _fit(case)
    gaps, last = [], [0.0]

    def hook(frame, event, arg):
        now = time.perf_counter()
        if now - last[0] > TRACE_GAP_S:
            code = frame.f_code
            gaps.append({"ms": round(1e3 * (now - last[0]), 1), "event": event,
                         "call": getattr(arg, "__name__", None),
                         "where": f"{code.co_filename.rsplit(os.sep, 1)[-1]}:{frame.f_lineno} "
                                  f"{code.co_name}"})
        last[0] = time.perf_counter()

    with BusyThread():
        last[0] = time.perf_counter()
        sys.setprofile(hook)
        try:
            _fit(case)
        finally:
            sys.setprofile(None)
    runs = sum(gap["ms"] > 2e3 * sys.getswitchinterval() for gap in gaps)
    return {"runs": runs, "other_waits": len(gaps) - runs, "gaps": gaps}


#: The shortest gap ``trace`` reports: more than the hook's cost between two events, less than
#: the switch interval a wait for the GIL takes beside a busy thread.
TRACE_GAP_S = 0.003


def _in_fresh_processes(mode, name):
    results = []
    for _ in range(PROCESSES):
        out = subprocess.run([sys.executable, "-m", "benchmarks.gil_probe", mode, name],
                             capture_output=True, text=True, check=True,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def main(argv):
    from sklearn.exceptions import ConvergenceWarning

    # once for the process: warnings.catch_warnings is not safe across threads (the pair case)
    warnings.simplefilter("ignore", ConvergenceWarning)
    if argv[0] == "all":
        for mode, name, keys, better in (("busy", "digits", ("ratio", "gil_ratio"), min),
                                         ("busy", "wide", ("ratio", "gil_ratio"), min),
                                         ("pair", "digits", ("speedup",), max)):
            results = _in_fresh_processes(mode, name)
            for key in keys:
                best = better(results, key=lambda r: r[key])
                print(f"{mode} {name}: best {key} {best[key]:.3f} "
                      f"({', '.join(f'{r[key]:.3f}' for r in results)}); best run {best}",
                      flush=True)
        return
    mode, name = argv
    print(json.dumps({"busy": busy, "pair": pair, "trace": trace}[mode](name)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

"""The CUDA backend's ``train_epochs`` (kernels/epoch_chunks.py over its ``train_epoch``) against
the NumPy reference's, on a GPU or in numba-cuda's simulator (``tests/test_cuda_backend.py`` runs
this file there where no GPU is usable)."""

import numpy as np
import pytest
from helpers import assert_close, epoch_arguments, kernel_rtol

from fastbp.kernels import reference
from fastbp.kernels.cuda_device import DeviceUnavailable, check_device
from fastbp.kernels.records import EpochRun

try:
    check_device()
except DeviceUnavailable as exc:
    pytest.skip(f"no CUDA device in this process ({exc}); tests/test_cuda_backend.py runs these "
                f"tests in numba-cuda's simulator", allow_module_level=True)

from fastbp.kernels import cuda as kc  # noqa: E402
from test_cuda_kernels import (  # noqa: E402, F401  (the fixture: the small launch geometry)
    _epoch_case,
    _rng,
    ignore_wrap_warnings,
    small_launch_config,
)

LRS = [0.05, 0.01, 0.02]
ON_HOST = ("widths", "activations", "dropout", "order")  # the order comes with the run


def _run(host, on_device, rng, lrs=LRS):
    """``train_epochs`` on ``host``'s arrays (moved to the device where ``on_device``); returns
    (epochs done, steps, the run's rows on the host, the orders, the final state)."""
    move = kc.to_device if on_device else (lambda a: a.copy())
    backend = kc if on_device else reference
    state = {k: move(v) if isinstance(v, np.ndarray) and k not in ON_HOST else v
             for k, v in host.items()}
    n, P = host["X"].shape[0], host["parameters"].shape[0]
    dtype = host["parameters"].dtype
    rows = [move(np.full((len(lrs) + 1, P), -7, dtype)) for _ in range(3)]
    run = EpochRun(np.array(lrs), rng, np.full(len(lrs), -7.0),
                   np.full(len(lrs) + 1, -7, np.int64), *rows)
    orders = move(np.zeros((len(lrs), n), np.int64))
    arguments = list(epoch_arguments(state))
    arguments[2] = arguments[2]._replace(order=orders)
    done, steps = backend.train_epochs(*arguments, run)
    host_of = kc.to_host if on_device else (lambda a: a)
    return (done, steps, run.losses, run.steps, [host_of(r) for r in rows], host_of(orders),
            {k: host_of(state[k]) for k in ("parameters", "moment_1", "moment_2")})


@ignore_wrap_warnings  # the dropout masks' hash wraps around on purpose
@pytest.mark.parametrize("name", ["adam-dropout-penalty", "nesterov-float32"])
def test_train_epochs_matches_the_reference(name):
    host = _epoch_case(name, _rng("epochs", name))
    expected = _run(host, False, np.random.default_rng(4))
    found = _run(host, True, np.random.default_rng(4))
    rtol = kernel_rtol(host["parameters"].dtype)
    assert found[:2] == expected[:2] == (len(LRS), host["steps_taken"] + 3 * len(LRS))
    np.testing.assert_array_equal(found[5], expected[5])  # the orders: rng.permutation's
    assert_close(found[2], expected[2], rtol, "epoch losses")
    np.testing.assert_array_equal(found[3], expected[3])
    for name_, a, b in zip(("parameters", "moment_1", "moment_2"), found[4], expected[4]):
        assert_close(a, b, rtol, f"{name_} rows")
    for key in found[6]:
        assert_close(found[6][key], expected[6][key], rtol, key)


def test_train_epochs_stops_in_the_epoch_whose_loss_is_not_finite():
    host = _epoch_case("nesterov-float32", _rng("epochs", "nan"))
    host["X"][3] = np.nan  # the row is in every epoch: the first stops at its batch
    expected = _run(host, False, np.random.default_rng(1))
    found = _run(host, True, np.random.default_rng(1))
    assert found[:2] == expected[:2] and found[0] == 0
    assert np.isnan(found[2][0]) and np.isnan(expected[2][0])
    assert_close(found[4][0][0], host["parameters"], 0, "the start state's row")

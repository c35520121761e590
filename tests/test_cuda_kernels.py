"""CUDA kernels against the NumPy reference, on a GPU or in numba-cuda's simulator.

Collected only where kernels can run: on a GPU, or in the simulator subprocess that
``tests/test_cuda_backend.py`` starts in a run without one (the simulator must be switched on before
numba first imports ``numba.cuda``, and the rest of the suite imports it for real). Tile and block
sizes are patched small (``small_launch_config``) so a few rows and columns span several blocks and
ragged edges, which keeps the slow simulator to well under a minute.
"""

import os
import zlib

import numpy as np
import pytest
from helpers import (
    ACTIVATIONS,
    DTYPES,
    EXP_EDGE,
    LOSSES,
    assert_close,
    epoch_arguments,
    kernel_rtol,
    normalised_weights,
    random_targets,
)

from fastbp.kernels import codes, cpu, reference
from fastbp.kernels.cuda_device import DeviceUnavailable, check_device
from fastbp.kernels.layout import parameter_offsets

try:
    check_device()
except DeviceUnavailable as exc:
    pytest.skip(f"no CUDA device in this process ({exc}); tests/test_cuda_backend.py runs these "
                f"tests in numba-cuda's simulator", allow_module_level=True)

from fastbp.kernels import cuda as kc  # noqa: E402
from fastbp.kernels.cuda import config as cuda_config, gemm as cuda_gemm  # noqa: E402

IN_SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
on_gpu = pytest.mark.skipif(
    IN_SIMULATOR, reason="needs a real GPU: the shipped tile sizes at realistic shapes are too "
                         "slow to simulate")

#: Launch geometry small enough that N x N_IN inputs and N_OUT outputs span several blocks with
#: ragged edges on every GEMM axis; reductions over a count of threads that is not a power of two;
#: and REDUCTION_BLOCKS low enough that the loss and penalty threads stride over several items.
SMALL = {"TILE": 4, "BLOCK_M": 8, "BLOCK_N": 8, "BLOCK_K": 4, "THREAD_M": 2, "THREAD_N": 2,
         "ELEMENTWISE_THREADS": 24, "ROW_THREADS": 4, "COLUMN_SUM_COLS": 4, "COLUMN_SUM_ROWS": 3,
         "REDUCTION_BLOCKS": 2}
N, N_IN, N_OUT = 13, 11, 7


@pytest.fixture(autouse=True)
def small_launch_config(monkeypatch):
    """Shrinks the launch geometry; returns the shipped values for the tests that restore them."""
    shipped = {name: getattr(cuda_config, name) for name in SMALL}
    for name, value in SMALL.items():
        monkeypatch.setattr(cuda_config, name, value)
    return shipped


@pytest.fixture
def shipped_launch_config(small_launch_config, monkeypatch):
    """The launch geometry as shipped, for the tests of it."""
    for name, value in small_launch_config.items():
        monkeypatch.setattr(cuda_config, name, value)


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _dev(array):
    return kc.to_device(array)


def _layer(rng, dtype):
    x = rng.standard_normal((N, N_IN)).astype(dtype)
    W = (rng.standard_normal((N_IN, N_OUT)) / np.sqrt(N_IN)).astype(dtype)
    b = rng.standard_normal(N_OUT).astype(dtype)
    return x, W, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", ["forward", "weights", "inputs"])
@pytest.mark.parametrize("variant", [1, 2])
def test_gemm(variant, form, dtype):
    """Both GEMM variants, every form, on ragged shapes: op(a) @ op(b) (+ bias for the forward)."""
    rng = _rng(variant, form, dtype)
    x, W, b = _layer(rng, dtype)
    delta = rng.standard_normal((N, N_OUT)).astype(dtype)
    a, bm, expected = {"forward": (x, W, x @ W + b),
                       "weights": (x, delta, x.T @ delta),
                       "inputs": (delta, W, delta @ W.T)}[form]
    out = _dev(np.full(expected.shape, np.nan, dtype))
    cuda_gemm.gemm(form, out, out, _dev(a), _dev(bm), _dev(b), codes.IDENTITY, variant=variant)
    assert_close(kc.to_host(out), expected, kernel_rtol(dtype), f"gemm v{variant} {form}")


@pytest.mark.usefixtures("shipped_launch_config")
@pytest.mark.parametrize("variant, n", [(1, 20), (2, 130)])
def test_gemm_shipped_tiles(variant, n):
    """The shipped tile shapes (16 x 16 tiles; 128 x 128 blocks of 256 threads), ragged edges."""
    rng = _rng("shipped", variant)
    x = rng.standard_normal((n, 9)).astype(np.float32)
    W = rng.standard_normal((9, 17)).astype(np.float32)
    b = rng.standard_normal(17).astype(np.float32)
    out = _dev(np.full((n, 17), np.nan, np.float32))
    cuda_gemm.gemm("forward", out, out, _dev(x), _dev(W), _dev(b), codes.RELU, variant=variant)
    assert_close(kc.to_host(out), np.maximum(x @ W + b, 0), kernel_rtol(np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_forward(activation, dtype):
    rng = _rng("forward", activation, dtype)
    x, W, b = _layer(rng, dtype)
    code = codes.ACTIVATION_CODES[activation]
    out, pre = np.empty((N, N_OUT), dtype), np.empty((N, N_OUT), dtype)
    reference.dense_forward(out, pre, x, W, b, code)
    d_out, d_pre = _dev(np.full_like(out, np.nan)), _dev(np.full_like(out, np.nan))
    kc.dense_forward(d_out, d_pre, _dev(x), _dev(W), _dev(b), code)
    assert_close(kc.to_host(d_pre), pre, kernel_rtol(dtype), "pre")
    assert_close(kc.to_host(d_out), out, kernel_rtol(dtype), "out")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["tanh", "softmax"])
def test_dense_forward_pre_aliasing_out(activation, dtype):
    """``pre`` may be ``out`` itself: the epilogue (or the softmax pass) must overwrite it last."""
    rng = _rng("alias", activation, dtype)
    x, W, b = _layer(rng, dtype)
    code = codes.ACTIVATION_CODES[activation]
    out = np.empty((N, N_OUT), dtype)
    reference.dense_forward(out, out, x, W, b, code)
    d_out = _dev(np.full_like(out, np.nan))
    kc.dense_forward(d_out, d_out, _dev(x), _dev(W), _dev(b), code)
    assert_close(kc.to_host(d_out), out, kernel_rtol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_backward(activation, dtype):
    rng = _rng("backward", activation, dtype)
    x, W, b = _layer(rng, dtype)
    code = codes.ACTIVATION_CODES[activation]
    out, pre = np.empty((N, N_OUT), dtype), np.empty((N, N_OUT), dtype)
    reference.dense_forward(out, pre, x, W, b, code)
    grad = rng.standard_normal((N, N_OUT)).astype(dtype)
    dx, dW, db = np.empty_like(x), np.empty_like(W), np.empty_like(b)
    d_grad = _dev(grad)
    reference.dense_backward(dx, dW, db, grad, x, W, out, pre, code)
    d_dx, d_dW, d_db = (_dev(np.full_like(a, np.nan)) for a in (dx, dW, db))
    kc.dense_backward(d_dx, d_dW, d_db, d_grad, _dev(x), _dev(W), _dev(out), _dev(pre), code)
    rtol = kernel_rtol(dtype)
    assert_close(kc.to_host(d_grad), grad, rtol, "delta (in place)")
    assert_close(kc.to_host(d_dW), dW, rtol, "dW")
    assert_close(kc.to_host(d_db), db, rtol, "db")
    assert_close(kc.to_host(d_dx), dx, rtol, "dx")


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_backward_without_dx(dtype):
    rng = _rng("first layer", dtype)
    x, W, b = _layer(rng, dtype)
    out = np.maximum(x @ W + b, 0).astype(dtype)
    grad = rng.standard_normal((N, N_OUT)).astype(dtype)
    d_dW, d_db = _dev(np.empty_like(W)), _dev(np.empty_like(b))
    kc.dense_backward(None, d_dW, d_db, _dev(grad), _dev(x), _dev(W), _dev(out), _dev(out),
                      codes.RELU)
    dW, db = np.empty_like(W), np.empty_like(b)
    reference.dense_backward(None, dW, db, grad, x, W, out, out, codes.RELU)
    assert_close(kc.to_host(d_dW), dW, kernel_rtol(dtype), "dW")
    assert_close(kc.to_host(d_db), db, kernel_rtol(dtype), "db")


#: Widths of ``db`` whose column sums span three or more blocks of ``COLUMN_SUM_COLS`` columns: three
#: full blocks, three and a ragged fourth, five with a ragged last (with two blocks, a launcher that
#: mapped every block past the first to the second would still pass).
SPANNING_WIDTHS = [3 * SMALL["COLUMN_SUM_COLS"], 3 * SMALL["COLUMN_SUM_COLS"] + 1,
                   5 * SMALL["COLUMN_SUM_COLS"] - 1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_out", SPANNING_WIDTHS)
def test_dense_backward_bias_gradient_across_column_blocks(n_out, dtype):
    """``db``, the column sums of delta, where the columns span 3 to 5 column-sum blocks."""
    rng = _rng("column blocks", n_out, dtype)
    x = rng.standard_normal((N, N_IN)).astype(dtype)
    W = rng.standard_normal((N_IN, n_out)).astype(dtype)
    # each column's sum its own size: a block summing another block's columns cannot agree
    grad = (rng.standard_normal((N, n_out)) + np.arange(1, n_out + 1)).astype(dtype)
    out = (x @ W).astype(dtype)
    dW, db = np.empty_like(W), np.empty(n_out, dtype)
    reference.dense_backward(None, dW, db, grad.copy(), x, W, out, out, codes.IDENTITY)
    d_dW, d_db = _dev(np.full_like(W, np.nan)), _dev(np.full(n_out, np.nan, dtype))
    kc.dense_backward(None, d_dW, d_db, _dev(grad), _dev(x), _dev(W), _dev(out), _dev(out),
                      codes.IDENTITY)
    assert_close(kc.to_host(d_db), db, kernel_rtol(dtype), "db")
    assert_close(kc.to_host(d_dW), dW, kernel_rtol(dtype), "dW")


@pytest.mark.usefixtures("shipped_launch_config")
@pytest.mark.parametrize("n_rows", [1, 19])
def test_column_sums_shipped_block_across_column_blocks(n_rows):
    """The column-sum kernel at the shipped block (``COLUMN_SUM_COLS`` x ``COLUMN_SUM_ROWS``)
    over three full blocks of columns and a ragged fourth; one row, and rows ragged against the
    block's row stride."""
    from fastbp.kernels.cuda.elementwise import column_sums
    from fastbp.kernels.cuda.launch import blocks_for, launch

    cols, rows = cuda_config.COLUMN_SUM_COLS, cuda_config.COLUMN_SUM_ROWS
    n_cols = 3 * cols + 5
    assert blocks_for(n_cols, cols) == 4
    rng = _rng("shipped column sums", n_rows)
    values = (rng.standard_normal((n_rows, n_cols)) + np.arange(n_cols)).astype(np.float32)
    sums = _dev(np.full(n_cols, np.nan, np.float32))
    launch(column_sums, blocks_for(n_cols, cols), (cols, rows))(sums, _dev(values))
    assert_close(kc.to_host(sums), values.sum(axis=0, dtype=np.float64), kernel_rtol(np.float32),
                 "column sums")


def _extremes(dtype, exp=False):
    """Rows of ordinary and huge pre-activations; for ``exp``, huge stops at the edge of its finite
    range (exp(1e4) is beyond float64 for real)."""
    big = EXP_EDGE[np.dtype(dtype)] if exp else (1e3 if dtype == np.float32 else 1e4)
    z = np.array([-big, -50, -1, -1e-3, 0, 1e-3, 1, 50, big], dtype)
    return np.stack([z, -z, np.roll(z, 3)])  # several rows for softmax


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_kernels(activation, dtype):
    """Standalone forward and backward on ordinary and extreme pre-activations: finite, and equal."""
    rng = _rng("activation", activation, dtype)
    code = codes.ACTIVATION_CODES[activation]
    z = np.concatenate([rng.standard_normal((N, 9)),
                        _extremes(dtype, exp=code == codes.EXP)]).astype(dtype)
    out = np.empty_like(z)
    reference.activation_forward(out, z, code)
    d_out = _dev(np.empty_like(z))
    kc.activation_forward(d_out, _dev(z), code)
    assert_close(kc.to_host(d_out), out, kernel_rtol(dtype), "forward")
    grad = rng.standard_normal(z.shape).astype(dtype)
    d_grad = _dev(grad)
    reference.activation_backward(grad, out, z, code)
    kc.activation_backward(d_grad, _dev(out), _dev(z), code)
    assert_close(kc.to_host(d_grad), grad, kernel_rtol(dtype), "backward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("extreme", [False, True])
def test_loss_kernels(loss, dtype, extreme):
    rng = _rng("loss", loss, dtype, extreme)
    code = codes.LOSS_CODES[loss]
    exp = code == codes.POISSON
    pre = (_extremes(dtype, exp)[:, :N_OUT].repeat(5, axis=0)[:N] if extreme
           else rng.standard_normal((N, N_OUT)).astype(dtype) * 3)
    out = np.empty_like(pre)
    activation = codes.LOGIT_LOSS_ACTIVATION.get(code, codes.TANH)
    reference.activation_forward(out, pre, activation)
    y = random_targets(rng, N, N_OUT, loss, dtype, hard=bool(extreme))
    w = normalised_weights(rng, N, dtype)
    args = (_dev(pre), _dev(out), _dev(y), _dev(w), code)
    expected = reference.loss_forward(pre, out, y, w, code)
    value = kc.loss_forward(*args)
    assert type(value) is float and np.isfinite(value)
    assert_close(value, expected, kernel_rtol(dtype), "loss")
    grad, d_grad = np.empty_like(out), _dev(np.full_like(out, np.nan))
    reference.loss_backward(grad, pre, out, y, w, code)
    kc.loss_backward(d_grad, *args)
    assert_close(kc.to_host(d_grad), grad, kernel_rtol(dtype), "loss gradient")


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_keeps_a_confident_rows_tiny_loss(dtype):
    """Rows whose true class leads by a margin with exp(-margin) below the dtype's epsilon: the
    loss is about (k - 1) exp(-margin), which ``log(1 + tiny)`` would round to zero."""
    margin = 40.0 if dtype == np.float64 else 20.0
    labels = np.arange(N) % N_OUT
    pre = np.full((N, N_OUT), -margin, dtype)
    pre[np.arange(N), labels] = 0  # the log-sum-exp is then the loss itself, not 0 + a margin
    out = np.empty_like(pre)
    reference.activation_forward(out, pre, codes.SOFTMAX)
    y = np.eye(N_OUT, dtype=dtype)[labels]
    w = np.full(N, 1.0 / N, dtype)
    code = codes.CROSS_ENTROPY
    expected = reference.loss_forward(pre, out, y, w, code)
    np.testing.assert_allclose(expected, (N_OUT - 1) * np.exp(-margin), rtol=1e-6)
    value = kc.loss_forward(_dev(pre), _dev(out), _dev(y), _dev(w), code)
    assert_close(value, expected, kernel_rtol(dtype), "loss")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("l2, l1", [(0.3, 0.0), (0.0, 0.2), (0.3, 0.2)])
def test_penalty_kernels(l2, l1, dtype):
    rng = _rng("penalty", l2, l1, dtype)
    W = rng.standard_normal((N, N_OUT)).astype(dtype)
    W[0, 0] = 0  # sign(0) = 0
    dW = rng.standard_normal(W.shape).astype(dtype)
    d_dW = _dev(dW)
    assert_close(kc.penalty_forward(_dev(W), l2, l1), reference.penalty_forward(W, l2, l1),
                 kernel_rtol(dtype), "penalty")
    kc.penalty_backward(d_dW, _dev(W), l2, l1)
    reference.penalty_backward(dW, W, l2, l1)
    assert_close(kc.to_host(d_dW), dW, kernel_rtol(dtype), "penalty gradient")


#: The simulator runs kernels as NumPy scalar code, whose uint64 multiply warns on the wrap-around
#: that splitmix64 relies on (and that the GPU, like Numba on the CPU, does silently).
ignore_wrap_warnings = pytest.mark.filterwarnings(
    "ignore:.*overflow encountered in scalar multiply:RuntimeWarning")


@ignore_wrap_warnings
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_kernels(dtype):
    """The counter-based mask is the reference's, draw for draw."""
    rng = _rng("dropout", dtype)
    out = rng.standard_normal((N, N_OUT)).astype(dtype)
    dropped, mask = np.empty_like(out), np.empty_like(out)
    reference.dropout_forward(dropped, mask, out, 0.3, 12345, 7, 1)
    d_dropped, d_mask = _dev(np.empty_like(out)), _dev(np.empty_like(out))
    kc.dropout_forward(d_dropped, d_mask, _dev(out), 0.3, 12345, 7, 1)
    np.testing.assert_array_equal(kc.to_host(d_mask), mask)
    assert 0 < np.count_nonzero(mask) < mask.size
    assert_close(kc.to_host(d_dropped), dropped, kernel_rtol(dtype), "dropped")
    grad = rng.standard_normal(out.shape).astype(dtype)
    d_grad = _dev(grad)
    kc.dropout_backward(d_grad, d_mask)
    reference.dropout_backward(grad, mask)
    assert_close(kc.to_host(d_grad), grad, kernel_rtol(dtype), "dropout backward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
def test_optimizer_kernels(optimizer, dtype):
    rng = _rng("optimizer", optimizer, dtype)
    theta, grad, a, b = (rng.standard_normal(41).astype(dtype) for _ in range(4))
    b = np.abs(b)  # Adam's second moment is non-negative
    d_theta, d_grad, d_a, d_b = (_dev(v) for v in (theta, grad, a, b))
    if optimizer == "adam":
        lr_t = reference.adam_learning_rate(0.01, 0.9, 0.999, 3)
        assert kc.adam_learning_rate(0.01, 0.9, 0.999, 3) == lr_t
        reference.adam_update(theta, grad, a, b, lr_t, 0.9, 0.999, 1e-8)
        kc.adam_update(d_theta, d_grad, d_a, d_b, lr_t, 0.9, 0.999, 1e-8)
    else:
        nesterov = optimizer == "nesterov"
        reference.sgd_update(theta, grad, a, 0.1, 0.9, nesterov)
        kc.sgd_update(d_theta, d_grad, d_a, 0.1, 0.9, nesterov)
    rtol = kernel_rtol(dtype)
    assert_close(kc.to_host(d_theta), theta, rtol, "theta")
    assert_close(kc.to_host(d_a), a, rtol, "state_a")
    assert_close(kc.to_host(d_b), b, rtol, "state_b")


def test_unknown_codes_are_rejected():
    z = _dev(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="unknown activation code 99"):
        kc.activation_forward(z, z, 99)
    with pytest.raises(ValueError, match="unknown loss code 7"):
        kc.loss_forward(z, z, z, _dev(np.ones(2)), 7)


def test_moving_arrays_to_the_device_and_back():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]  # not contiguous
    d = kc.to_device(a)
    back = kc.to_host(d)
    assert back.dtype == a.dtype and back.flags.c_contiguous
    np.testing.assert_array_equal(back, a)
    kc.copy_to_device(d, -a)
    np.testing.assert_array_equal(kc.to_host(d), -a)


EPOCHS = {
    # name: (dtype, widths, activations, loss, dropout, optimizer, l2, l1)
    "adam-dropout-penalty": (np.float64, (5, 6, 3), ("gelu", "softmax"), "cross_entropy",
                             (0.25, 0.0), "adam", 0.1, 0.05),
    "nesterov-float32": (np.float32, (5, 6, 4, 2), ("tanh", "relu", "identity"), "squared_error",
                         (0.0, 0.0, 0.0), "nesterov", 0.0, 0.0),
    "sgd-poisson-float32": (np.float32, (5, 6, 2), ("softplus", "exp"), "poisson", (0.0, 0.0),
                            "sgd", 0.1, 0.0),
}


def _epoch_case(name, rng):
    dtype, widths, activations, loss, dropout, optimizer, l2, l1 = EPOCHS[name]
    n = 11  # batches of 4, 4 and a ragged 3
    P = parameter_offsets(widths)[-1]
    loss_code = codes.LOSS_CODES[loss]
    host = dict(
        parameters=(rng.standard_normal(P) * 0.5).astype(dtype), gradient=np.zeros(P, dtype),
        moment_1=(rng.standard_normal(P) * 0.01).astype(dtype),
        moment_2=np.abs(rng.standard_normal(P) * 0.01).astype(dtype),
        widths=np.array(widths, np.int64),
        activations=np.array([codes.ACTIVATION_CODES[a] for a in activations], np.int64),
        dropout=np.array(dropout), loss=loss_code,
        X=rng.standard_normal((n, widths[0])).astype(dtype),
        Y=random_targets(rng, n, widths[-1], loss, dtype),
        sample_weight=rng.uniform(0.5, 2.0, n).astype(dtype),
        order=rng.permutation(n).astype(np.int64), batch_size=4,
        optimizer=codes.ADAM if optimizer == "adam" else codes.SGD, lr=0.05, momentum=0.9,
        nesterov=optimizer == "nesterov", beta_1=0.9, beta_2=0.999, epsilon=1e-8, l2=l2, l1=l1,
        dropout_seed=2024, steps_taken=3)
    return host


def _run_epoch(host):
    """The epoch on the reference and on the device; returns both results and final states."""
    on_host = ("widths", "activations", "dropout")  # the network record stays on the host
    device = {k: _dev(v) if isinstance(v, np.ndarray) and k not in on_host else v
              for k, v in host.items()}
    ref_state = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in host.items()}
    expected = reference.train_epoch(*epoch_arguments(ref_state))
    result = kc.train_epoch(*epoch_arguments(device))
    return expected, ref_state, result, device


@ignore_wrap_warnings
@pytest.mark.parametrize("name", list(EPOCHS))
def test_train_epoch(name):
    """A whole epoch on the device: same loss, step count, parameters and optimizer state."""
    host = _epoch_case(name, _rng("epoch", name))
    dtype = host["parameters"].dtype
    (loss, step), ref_state, (d_loss, d_step), device = _run_epoch(host)
    assert d_step == step == host["steps_taken"] + 3
    assert type(d_loss) is float
    rtol = kernel_rtol(dtype)
    assert_close(d_loss, loss, rtol, "mean loss")
    for key in ("parameters", "gradient", "moment_1", "moment_2"):
        assert_close(kc.to_host(device[key]), ref_state[key], rtol, key)


def test_train_epoch_stops_at_a_non_finite_batch():
    """A NaN in the second batch: no update from it on, and the step count of the CPU trainer."""
    host = _epoch_case("nesterov-float32", _rng("epoch", "nan"))
    host["X"][host["order"][5]] = np.nan  # a sample of the second batch
    (loss, step), ref_state, (d_loss, d_step), device = _run_epoch(host)
    assert np.isnan(loss) and np.isnan(d_loss)
    assert d_step == step == host["steps_taken"] + 1
    for key in ("parameters", "moment_1"):
        assert_close(kc.to_host(device[key]), ref_state[key], kernel_rtol(np.float32), key)


@on_gpu
@pytest.mark.usefixtures("shipped_launch_config")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", [1, 2])
def test_dense_layer_on_gpu_at_scale(variant, dtype, monkeypatch):
    """The shipped launch geometry on a layer of realistic size, against the CPU backend."""
    monkeypatch.setattr(cuda_config, "GEMM_VARIANT", variant)
    rng = _rng("scale", variant, dtype)
    n, n_in, n_out = 1000, 300, 700
    x = rng.standard_normal((n, n_in)).astype(dtype)
    W = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    out = np.empty((n, n_out), dtype)
    cpu.dense_forward(out, out, x, W, b, codes.RELU)
    d_out = _dev(np.empty_like(out))
    kc.dense_forward(d_out, d_out, _dev(x), _dev(W), _dev(b), codes.RELU)
    rtol = kernel_rtol(dtype)
    assert_close(kc.to_host(d_out), out, rtol, "out")
    grad = rng.standard_normal(out.shape).astype(dtype)
    d_grad = _dev(grad)
    dx, dW, db = np.empty_like(x), np.empty_like(W), np.empty_like(b)
    cpu.dense_backward(dx, dW, db, grad, x, W, out, out, codes.RELU)
    d_dx, d_dW, d_db = _dev(np.empty_like(x)), _dev(np.empty_like(W)), _dev(np.empty_like(b))
    kc.dense_backward(d_dx, d_dW, d_db, d_grad, _dev(x), _dev(W), d_out, d_out, codes.RELU)
    assert_close(kc.to_host(d_dx), dx, rtol, "dx")
    assert_close(kc.to_host(d_dW), dW, rtol, "dW")
    assert_close(kc.to_host(d_db), db, rtol, "db")


@ignore_wrap_warnings
@pytest.mark.parametrize("dtype, loss, output, optimizer", [
    ("float64", "cross_entropy", "softmax", "adam"),
    ("float32", "squared_error", "identity", "sgd"),
])
def test_fit_matches_the_cpu_backend(dtype, loss, output, optimizer):
    """``Sequential.fit`` on backend "cuda": the CPU backend's losses and weights, epoch by epoch."""
    import fastbp

    rng = _rng("fit", dtype, loss)
    X = rng.standard_normal((23, 4))
    y = rng.integers(0, 3, 23) if loss == "cross_entropy" else rng.standard_normal((23, 3))
    fitted = {}
    for backend in ("cpu", "cuda"):
        model = fastbp.Sequential(
            [fastbp.Dense(4, 6, activation="relu", dropout=0.2),
             fastbp.Dense(6, 3, activation=output)],
            loss=loss, dtype=dtype, backend=backend, seed=1)
        history = model.fit(X, y, epochs=2, batch_size=8, optimizer=optimizer, alpha=0.01,
                            seed=3)
        fitted[backend] = history.loss, model.layers
    rtol = kernel_rtol(dtype)
    (cpu_loss, cpu_layers), (cuda_loss, cuda_layers) = fitted["cpu"], fitted["cuda"]
    assert_close(cuda_loss, cpu_loss, rtol, "epoch losses")
    for i, (a, b) in enumerate(zip(cuda_layers, cpu_layers)):
        assert_close(a.W, b.W, rtol, f"W of layer {i}")
        assert_close(a.b, b.b, rtol, f"b of layer {i}")


@ignore_wrap_warnings
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sequential_api_matches_the_cpu_backend(dtype):
    """forward, gradients, numerical_gradients, step and fit's validation figures on "cuda": the
    arrays the model hands the kernels live on the device, and the answers are the CPU's."""
    import fastbp

    rng = _rng("api", dtype, "cross_entropy")
    X, y = rng.standard_normal((7, 3)), rng.integers(0, 3, 7)
    results = {}
    for backend in ("cpu", "cuda"):
        model = fastbp.Sequential([fastbp.Dense(3, 4, "gelu"), fastbp.Dense(4, 3, "softmax")],
                                  loss="cross_entropy", dtype=dtype, backend=backend, seed=0)
        output, gradients = model.forward(X), model.gradients(X, y)
        # central differences in float32 are rounding noise at ~1e-7/eps: compare them in float64
        numerical = model.numerical_gradients(X, y) if dtype == "float64" else []
        loss = model.step(X, y, 0.1)
        history = model.fit(X, y, epochs=2, batch_size=3, validation_split=0.3, seed=1)
        results[backend] = (output, gradients, numerical, loss, model.parameters.copy(),
                            history.val_loss)
    rtol = kernel_rtol(dtype)
    cpu_result, cuda_result = results["cpu"], results["cuda"]
    assert_close(cuda_result[0], cpu_result[0], rtol, "forward")
    for name, index, tolerance in (("gradients", 1, rtol), ("numerical gradients", 2, 1e-6)):
        for (dW, db), (cW, cb) in zip(cuda_result[index], cpu_result[index]):
            assert_close(dW, cW, tolerance, f"{name} dW")
            assert_close(db, cb, tolerance, f"{name} db")
    assert_close(cuda_result[3], cpu_result[3], rtol, "loss before the step")
    assert_close(cuda_result[4], cpu_result[4], rtol, "weights after step and fit")
    assert_close(cuda_result[5], cpu_result[5], rtol, "validation losses")


@ignore_wrap_warnings
def test_optimizer_state_survives_a_cuda_fit():
    """Resuming with the same Adam object continues its moments on "cuda" as on "cpu"."""
    import fastbp

    rng = _rng("resume", "float64", "squared_error")
    X, y = rng.standard_normal((9, 3)), rng.standard_normal((9, 2))
    thetas = {}
    for backend in ("cpu", "cuda"):
        model = fastbp.Sequential([fastbp.Dense(3, 2)], dtype="float64", backend=backend, seed=0)
        adam = fastbp.Adam(0.01)
        for _ in range(2):
            model.fit(X, y, epochs=1, batch_size=None, optimizer=adam, shuffle=False)
        thetas[backend] = model.parameters.copy(), [s.copy() for s in adam.moments], adam.steps
    (cpu_theta, cpu_state, cpu_steps), (cuda_theta, cuda_state, cuda_steps) = thetas.values()
    assert cuda_steps == cpu_steps == 2
    assert_close(cuda_theta, cpu_theta, 1e-12, "weights after two resumed fits")
    for device_moment, host_moment in zip(cuda_state, cpu_state):
        assert_close(device_moment, host_moment, 1e-12, "Adam moments")

"""Reference trainers for the benchmarks: scikit-learn, PyTorch (optional) and the BLAS roofline.

Each trains the same architecture with the same optimizer, batch size and epochs as fastbp, on the
same data, so the ratios compare like with like.
"""

import pathlib
import platform
import time
import warnings

import numpy as np


def cpu_name():
    """The processor's model name, for ``extra_info`` (pytest-benchmark's own may be vaguer)."""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def settle(seconds=0.2):
    """Pause so the worker threads a previous run left spinning go idle before the next is timed.

    OpenBLAS's workers busy-wait for about 2**28 cycles (~0.1 s here) after each threaded call, and
    OpenMP's briefly too; on two cores a spinning thread would steal one from whatever runs next.
    Every contender is timed after this pause.
    """
    time.sleep(seconds)


def gemm_flops_per_epoch(dims, n_samples):
    """FLOPs of every GEMM in one epoch: forward ``x@W``, backward ``x.T@delta`` and ``delta@W.T``
    (the first layer skips the last)."""
    products = [a * b for a, b in zip(dims[:-1], dims[1:])]
    return 2 * n_samples * (3 * sum(products) - products[0])


def blas_flop_rate(dtype=np.float32, size=2048, repeat=5):
    """FLOP/s of a large square ``numpy`` matmul: the machine's practical GEMM peak."""
    a = np.random.default_rng(0).standard_normal((size, size)).astype(dtype)
    out = np.empty_like(a)
    np.matmul(a, a, out=out)
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        np.matmul(a, a, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def sklearn_fit(X, y, hidden, batch_size, epochs, seed=0):
    """Train scikit-learn's MLPClassifier (ReLU, Adam lr 1e-3) for exactly ``epochs`` epochs."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(hidden_layer_sizes=hidden, solver="adam", learning_rate_init=1e-3,
                          batch_size=batch_size, max_iter=epochs, tol=0.0,
                          n_iter_no_change=epochs + 1, random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return time.perf_counter() - start, model


def torch_network(torch, dims):
    """The benchmarks' network in PyTorch: ``Linear`` layers with ReLU between them (logits out).

    Parameters
    ----------
    torch : module
        The imported ``torch``, which stays an optional import of the caller.
    dims : sequence of int
        Input width, hidden widths, number of classes.
    """
    layers = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def torch_adam(torch, net, batch_size, alpha):
    """Adam (lr 1e-3) with the L2 penalty of scikit-learn's ``alpha`` for ``net``'s parameters."""
    # scikit-learn's alpha is an L2 penalty alpha/2 ||W||^2 / batch: weight decay alpha / batch
    return torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=alpha / batch_size)


def torch_fit(X, y, hidden, batch_size, epochs, seed=0, alpha=1e-4):
    """The same network and optimizer in PyTorch on the CPU: an idiomatic training loop.

    Returns (seconds, predict function), or None when torch is not installed.
    """
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(seed)
    net = torch_network(torch, [X.shape[1], *hidden, int(y.max()) + 1])
    optimizer = torch_adam(torch, net, batch_size, alpha)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        for idx in torch.randperm(len(Xt), generator=generator).split(batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(net(Xt[idx]), yt[idx]).backward()
            optimizer.step()
    seconds = time.perf_counter() - start

    def predict(Xtest):
        with torch.no_grad():
            return net(torch.from_numpy(Xtest)).argmax(1).numpy()

    return seconds, predict

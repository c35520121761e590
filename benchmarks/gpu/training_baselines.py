"""The trainer fastbp's ``backend="cuda"`` is measured against: PyTorch CUDA eager, or in the dry
run (no PyTorch there) scikit-learn on the CPU as a stand-in.

Both take ``(X, y, Xtest, ytest, dims, batch_size, epochs)``, train the network of
:mod:`benchmarks.training_cases` (``dims``: input, hidden and output widths) with Adam (lr 1e-3,
the same L2 penalty), batch size and epochs, and return per-epoch seconds and the test accuracy.
"""

import time

import numpy as np

from ..baselines import sklearn_fit, torch_adam, torch_network
from .frameworks import Unavailable, cuda_torch


def torch_cuda_run(X, y, Xtest, ytest, dims, batch_size, epochs, seed=0, alpha=1e-4):
    """Train in PyTorch on the GPU, data resident there, after a one-epoch warm-up run.

    Returns
    -------
    dict
        ``epoch_s`` (per timed epoch, synchronized), ``warmup_epoch_s``, ``accuracy``.
    """
    torch, _ = cuda_torch()
    device = torch.device("cuda")
    Xt, yt = torch.from_numpy(X).to(device), torch.from_numpy(y.astype(np.int64)).to(device)

    def train(n_epochs):
        torch.manual_seed(seed)
        net = torch_network(torch, dims).to(device)
        optimizer = torch_adam(torch, net, batch_size, alpha)
        loss_fn = torch.nn.CrossEntropyLoss()
        generator = torch.Generator(device=device).manual_seed(seed)
        seconds = []
        for _ in range(n_epochs):
            torch.cuda.synchronize()
            start = time.perf_counter()
            for idx in torch.randperm(len(Xt), generator=generator, device=device).split(
                    batch_size):
                optimizer.zero_grad(set_to_none=True)
                loss_fn(net(Xt[idx]), yt[idx]).backward()
                optimizer.step()
            torch.cuda.synchronize()
            seconds.append(time.perf_counter() - start)
        return net, seconds

    # the warm-up run loads cuBLAS and fills the caching allocator, as fastbp's compiles
    _, warmup = train(1)
    net, seconds = train(epochs)
    with torch.no_grad():
        predicted = net(torch.from_numpy(Xtest).to(device)).argmax(1).cpu().numpy()
    return {"epoch_s": seconds, "warmup_epoch_s": warmup[0],
            "accuracy": float(np.mean(predicted == ytest))}


def sklearn_run(X, y, Xtest, ytest, dims, batch_size, epochs, seed=0):
    """Train scikit-learn's MLPClassifier; per-epoch time is the fit's time over its epochs.

    Returns
    -------
    dict
        ``epoch_s`` (the mean epoch, once per epoch), ``accuracy``.
    """
    seconds, model = sklearn_fit(X, y, tuple(dims[1:-1]), min(batch_size, len(X)), epochs,
                                 seed=seed)
    return {"epoch_s": [seconds / epochs] * epochs,
            "accuracy": float(model.score(Xtest, ytest))}


def choose(simulator):
    """The training baseline: ``(name, run)``, ``run`` one of this module's trainers.

    On a device it is PyTorch CUDA eager, and a missing PyTorch is an error; in the dry run it is
    scikit-learn, unless PyTorch with a GPU happens to be there.
    """
    try:
        torch, _ = cuda_torch()
        return f"PyTorch {torch.__version__} CUDA eager", torch_cuda_run
    except Unavailable as exc:
        if not simulator:
            raise
        return f"scikit-learn on the CPU (dry-run stand-in: {exc})", sklearn_run

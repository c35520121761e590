"""The GEMM fastbp is measured against: cuBLAS through PyTorch or CuPy, NumPy in the dry run.

Every baseline has the interface of :class:`fastbp.kernels.cuda.bench.ForwardGemm` (``poison``,
``launch``, ``result``, ``timer``, ``close``), so the GEMM step validates and times all contenders
with the same code.
"""

import time

import numpy as np

from .frameworks import Unavailable, cuda_cupy, cuda_torch


class _HostTimer:
    """Host clock around calls that finish before they return (NumPy)."""

    clock = "host clock"

    def __init__(self, call):
        self.call = call

    def once(self):
        start = time.perf_counter()
        self.call()
        return time.perf_counter() - start

    def window(self, inner):
        start = time.perf_counter()
        for _ in range(inner):
            self.call()
        return time.perf_counter() - start


class NumpyGemm:
    """``a @ b`` by NumPy on the host: the dry run's stand-in for cuBLAS."""

    def __init__(self, a, b):
        self.a, self.b = a, b
        self.out = np.empty((a.shape[0], b.shape[1]), a.dtype)
        self.timer = _HostTimer(self.launch)

    def poison(self):
        self.out.fill(np.nan)

    def launch(self):
        np.matmul(self.a, self.b, out=self.out)

    def result(self):
        return self.out.copy()

    def close(self):
        pass


class _EventTimer:
    """Device events of a framework around ``inner`` queued calls; ``sync`` waits for the GPU."""

    clock = "cuda events"

    def __init__(self, call, make_event, elapsed_ms, sync):
        self.call, self.make_event, self.elapsed_ms, self.sync = call, make_event, elapsed_ms, sync

    def once(self):
        self.sync()
        start = time.perf_counter()
        self.call()
        self.sync()
        return time.perf_counter() - start

    def window(self, inner):
        start, end = self.make_event(), self.make_event()
        start.record()
        for _ in range(inner):
            self.call()
        end.record()
        end.synchronize()
        return self.elapsed_ms(start, end) / 1e3


class TorchGemm:
    """``torch.mm`` on the GPU (cuBLAS), TF32 off."""

    def __init__(self, torch, a, b):
        self.torch = torch
        self.a, self.b = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
        self.out = torch.empty((a.shape[0], b.shape[1]), dtype=self.a.dtype, device="cuda")
        self.timer = _EventTimer(self.launch, lambda: torch.cuda.Event(enable_timing=True),
                                 lambda s, e: s.elapsed_time(e), torch.cuda.synchronize)

    def poison(self):
        self.out.fill_(float("nan"))

    def launch(self):
        self.torch.mm(self.a, self.b, out=self.out)

    def result(self):
        return self.out.cpu().numpy()

    def close(self):
        """Free the operands now: the next size needs the memory."""
        del self.a, self.b, self.out
        self.torch.cuda.empty_cache()


class CupyGemm:
    """``cupy.matmul`` on the GPU (cuBLAS)."""

    def __init__(self, cupy, a, b):
        self.cupy = cupy
        self.a, self.b = cupy.asarray(a), cupy.asarray(b)
        self.out = cupy.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
        self.timer = _EventTimer(self.launch, cupy.cuda.Event, cupy.cuda.get_elapsed_time,
                                 cupy.cuda.Device().synchronize)

    def poison(self):
        self.out.fill(np.nan)

    def launch(self):
        self.cupy.matmul(self.a, self.b, out=self.out)

    def result(self):
        return self.cupy.asnumpy(self.out)

    def close(self):
        """Free the operands now: the next size needs the memory."""
        del self.a, self.b, self.out
        self.cupy.get_default_memory_pool().free_all_blocks()


def choose(simulator):
    """The baseline to measure against.

    Parameters
    ----------
    simulator : bool
        In the dry run NumPy stands in; on a device, PyTorch if it works, else CuPy.

    Returns
    -------
    name : str
    make : callable ``(a, b) -> gemm``
    settings : dict
        Precision settings and, where a framework was passed over, why.
    """
    if simulator:
        return "numpy (dry-run stand-in for cuBLAS)", NumpyGemm, {}
    try:
        torch, settings = cuda_torch()
        return (f"cuBLAS via PyTorch {torch.__version__}", lambda a, b: TorchGemm(torch, a, b),
                settings)
    except Unavailable as exc:
        torch_problem = str(exc)
    try:
        cupy, settings = cuda_cupy()
    except Unavailable as exc:
        raise Unavailable(f"no cuBLAS baseline: {torch_problem}; {exc}") from exc
    settings["pytorch passed over"] = torch_problem
    return f"cuBLAS via CuPy {cupy.__version__}", lambda a, b: CupyGemm(cupy, a, b), settings


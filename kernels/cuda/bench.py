"""Measurement hooks for the GPU benchmark script: device facts, memory, timed GEMM launches.

Everything the script needs from numba-cuda goes through here, so no CUDA call lives outside
``kernels/cuda/``. It works the same on a GPU and in numba-cuda's simulator, where the facts the
simulator cannot give (memory, driver, event times) come back as ``None`` or fall back to a host
clock, and say so.
"""

import contextlib
import gc
import os
import threading
import time

import numpy as np
from numba import cuda

from . import config as cuda_config, epoch as cuda_epoch, gemm as cuda_gemm, ops as cuda_ops
from ..codes import IDENTITY

#: Launch geometry for runs in the simulator, which runs every CUDA thread as a Python thread:
#: blocks of at most 16 threads instead of 256 keep a dry run of the script to seconds. The same
#: factories build the kernels, so the same code runs, only in smaller tiles.
SIMULATOR_LAUNCH_CONFIG = {
    "TILE": 4, "BLOCK_M": 8, "BLOCK_N": 8, "BLOCK_K": 4, "THREAD_M": 2, "THREAD_N": 2,
    "ELEMENTWISE_THREADS": 16, "ROW_THREADS": 4, "COLUMN_SUM_COLS": 4, "COLUMN_SUM_ROWS": 4,
    "REDUCTION_BLOCKS": 4,
}


def in_simulator():
    """Whether numba-cuda's simulator stands in for the GPU in this process."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


@contextlib.contextmanager
def launch_config(values):
    """Run the block with the :mod:`~fastbp.kernels.cuda.config` names in ``values`` set.

    Parameters
    ----------
    values : dict of str to int
        Names of ``cuda_config`` and their values; the shipped values come back on exit.
    """
    unknown = sorted(set(values) - set(vars(cuda_config)))
    if unknown:
        raise ValueError(f"not launch settings of cuda_config: {unknown}")
    saved = {name: getattr(cuda_config, name) for name in values}
    try:
        for name, value in values.items():
            setattr(cuda_config, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(cuda_config, name, value)


def _finite_int(value):
    return int(value) if np.isfinite(value) else None


def device_facts():
    """What this process's CUDA device is.

    Returns
    -------
    dict
        ``simulator``, ``name``, ``compute_capability``, ``multiprocessors``, ``driver`` (the CUDA
        version the driver supports), ``cuda_toolkit`` (the NVRTC version numba-cuda compiles
        with), ``memory_total`` (bytes); ``None`` where the simulator has no such fact.
    """
    device = cuda.get_current_device()
    facts = {"simulator": in_simulator(), "name": None,
             "compute_capability": list(device.compute_capability), "multiprocessors": None,
             "driver": None, "cuda_toolkit": None, "memory_total": None}
    if facts["simulator"]:
        facts["name"] = "numba-cuda simulator"
        return facts
    name = device.name
    facts["name"] = name.decode() if isinstance(name, bytes) else str(name)
    facts["multiprocessors"] = int(device.MULTIPROCESSOR_COUNT)
    from numba.cuda.cudadrv.driver import driver  # the real driver: absent in the simulator

    facts["driver"] = list(driver.get_version())
    facts["cuda_toolkit"] = list(cuda.runtime.get_version())
    facts["memory_total"] = _finite_int(cuda.current_context().get_memory_info().total)
    return facts


def memory_in_use():
    """Bytes of device memory in use by every process on the device, or None in the simulator."""
    info = cuda.current_context().get_memory_info()
    if not (np.isfinite(info.free) and np.isfinite(info.total)):
        return None
    return int(info.total - info.free)


def release_unreferenced():
    """Free device arrays nothing refers to any more, now.

    numba-cuda defers freeing a dropped array until enough are pending; a memory reading taken
    without this would count them as still in use.
    """
    gc.collect()
    deallocations = getattr(cuda.current_context(), "deallocations", None)
    if deallocations is not None:  # the simulator frees through Python's own memory
        deallocations.clear()
    cuda.synchronize()


def cached_buffers():
    """What the CUDA backend keeps on the device between calls, by cache.

    Returns
    -------
    dict
        ``epoch_workspaces``: batch-size workspaces kept by ``train_epoch`` (at most two: a fit's
        full and ragged batch); ``constants``: one-element constant vectors.
    """
    return {"epoch_workspaces": cuda_epoch._workspace.cache_info().currsize,
            "constants": len(cuda_ops._CONSTANTS)}


def clear_cached_buffers():
    """Drop the caches of :func:`cached_buffers` (the next call allocates them again)."""
    cuda_epoch._workspace.cache_clear()
    cuda_ops._CONSTANTS.clear()
    release_unreferenced()


class MemorySampler:
    """Highest :func:`memory_in_use` seen while the ``with`` block runs, read by a thread.

    The device has no high-water mark that includes every allocation, so a thread reads the
    memory in use every ``interval`` seconds; an allocation that lives shorter than that can be
    missed. ``peak`` is None in the simulator.
    """

    def __init__(self, interval=0.002):
        self.interval = interval
        self.peak = None
        self.samples = 0
        self._stop = threading.Event()
        self._thread = None

    def _read(self):
        used = memory_in_use()
        self.samples += 1
        if used is not None and (self.peak is None or used > self.peak):
            self.peak = used

    def _run(self):
        while not self._stop.is_set():
            self._read()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._read()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        cuda.synchronize()
        self._read()
        return False


class LaunchTimer:
    """Times ``launch()``, a call that queues device work on the default stream.

    :meth:`window` times ``inner`` back-to-back launches between two CUDA events, so the host's
    launch overhead overlaps the device work once the queue is full. The simulator's events carry
    no time; there a synchronized host clock stands in, and :attr:`clock` says which was used.
    """

    def __init__(self, launch):
        self.launch = launch
        self.clock = "host clock (simulator)" if in_simulator() else "cuda events"

    def once(self):
        """Seconds of one launch, host clock, synchronized on both sides (warm-up, estimates)."""
        cuda.synchronize()
        start = time.perf_counter()
        self.launch()
        cuda.synchronize()
        return time.perf_counter() - start

    def window(self, inner):
        """Seconds of ``inner`` consecutive launches."""
        if in_simulator():
            return sum(self.once() for _ in range(inner))
        start, end = cuda.event(), cuda.event()
        start.record()
        for _ in range(inner):
            self.launch()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3


class ForwardGemm:
    """fastbp's forward GEMM ``a @ b`` (bias zero, no activation) on the device, one variant.

    Parameters
    ----------
    a, b : numpy.ndarray
        Host operands of one dtype, shapes ``(m, k)`` and ``(k, n)``.
    variant : {1, 2}
        The GEMM of :mod:`fastbp.kernels.cuda.gemm`: 1 plain tiling, 2 register blocking.
    """

    def __init__(self, a, b, variant):
        self.variant = variant
        self.a, self.b = cuda.to_device(np.ascontiguousarray(a)), cuda.to_device(
            np.ascontiguousarray(b))
        self.shape = (a.shape[0], b.shape[1])
        self.out = cuda.device_array(self.shape, a.dtype)
        self.bias = cuda.to_device(np.zeros(b.shape[1], a.dtype))
        self.timer = LaunchTimer(self.launch)

    def poison(self):
        """Fill the output with NaN, so an element the kernel fails to write cannot pass."""
        self.out.copy_to_device(np.full(self.shape, np.nan, self.out.dtype))

    def launch(self):
        """Queue one GEMM."""
        cuda_gemm.gemm("forward", self.out, self.out, self.a, self.b, self.bias, IDENTITY,
                       variant=self.variant)

    def result(self):
        """The output, on the host."""
        return self.out.copy_to_host()

    def close(self):
        """Free the device arrays now: the next size needs the memory."""
        del self.a, self.b, self.out, self.bias
        release_unreferenced()

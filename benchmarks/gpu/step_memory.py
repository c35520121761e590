"""Step 4: device memory of a ``fit``: its peak, and what stays held once the model is gone.

Readings of the device's memory in use (all processes; the script is the only one) are taken
before the fit, continuously during it (a sampling thread: the peak), after it, after the model is
dropped and numba-cuda's deferred frees are flushed, and after the CUDA backend's caches are
cleared. The difference between the last two is what the backend's caches keep between fits.
"""

import fastbp
from fastbp.kernels.cuda import bench as cuda_bench

from ..training_cases import fastbp_model
from .results import finish, step_arguments
from .step_training import ALPHA, load, shrunk

MIB = 2**20


def _minus(a, b):
    return None if a is None or b is None else a - b


def main(argv=None):
    """Run the step; see the module docstring."""
    profile, record = step_arguments(__doc__, argv)
    case = profile.memory_case
    config = cuda_bench.SIMULATOR_LAUNCH_CONFIG if profile.simulator else {}
    with cuda_bench.launch_config(config):
        data, hidden, batch_size, epochs = shrunk(case, profile)
        X, _, y, _, n_classes = load(data, profile)
        dims = [X.shape[1], *hidden, n_classes]
        cuda_bench.release_unreferenced()
        before = cuda_bench.memory_in_use()
        model = fastbp_model(dims, backend="cuda")
        with cuda_bench.MemorySampler() as sampler:
            model.fit(X, y, epochs=epochs, batch_size=batch_size, optimizer=fastbp.Adam(1e-3),
                      alpha=ALPHA, seed=0)
        after_fit = cuda_bench.memory_in_use()
        cached_after_fit = cuda_bench.cached_buffers()
        del model
        cuda_bench.release_unreferenced()
        after_release = cuda_bench.memory_in_use()
        cuda_bench.clear_cached_buffers()
        after_clear = cuda_bench.memory_in_use()
        cached_after_clear = cuda_bench.cached_buffers()
    held = _minus(after_release, before)
    workspace_bytes = _minus(after_release, after_clear)
    record.data.update(
        case=case, dims=dims, n_train=len(X), batch_size=batch_size, epochs=epochs,
        input_bytes=int(X.nbytes), in_use_before=before, peak_in_use=sampler.peak,
        peak_over_before=_minus(sampler.peak, before), samples=sampler.samples,
        in_use_after_fit=after_fit, in_use_after_release=after_release,
        in_use_after_clearing_caches=after_clear, held_after_fit=held,
        held_by_caches=workspace_bytes, cached_after_fit=cached_after_fit,
        cached_after_clearing=cached_after_clear,
        leaves_workspaces_held=cached_after_fit["epoch_workspaces"] > 0)
    if before is None:
        record.note("simulator: no device memory to read; the cache counts still hold")
    else:
        print(f"peak {(sampler.peak - before) / MIB:.1f} MiB over {before / MIB:.0f} MiB in use; "
              f"held after the fit {held / MIB:.1f} MiB, of it the backend's caches "
              f"{workspace_bytes / MIB:.1f} MiB", flush=True)
    print(f"cached after fit: {cached_after_fit}; after clearing: {cached_after_clear}",
          flush=True)
    if cached_after_clear != {"epoch_workspaces": 0, "constants": 0}:
        record.fail(f"clearing the caches left {cached_after_clear}")
    finish(record)


if __name__ == "__main__":
    main()

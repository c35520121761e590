"""Step 3: the training benchmark's cases (a)-(c), fastbp ``backend="cuda"`` against the baseline.

Each side trains the case's float32 network with Adam after a one-epoch warm-up run (JIT
compilation, cuBLAS handles); the figures are the median seconds per epoch of the timed run
(synchronized: fastbp's epochs end with the weights back on the host) and the test accuracy.
"""

import statistics
import time
import traceback

import fastbp
from fastbp.kernels.cuda import bench as cuda_bench

from ..baselines import gemm_flops_per_epoch
from ..training_cases import CASES, case_data, fastbp_model
from . import training_baselines
from .results import finish, step_arguments

#: scikit-learn's default L2 penalty, used by every side of the training benchmark
ALPHA = 1e-4


def shrunk(case, profile):
    """``(data, hidden, batch_size, epochs)`` of ``case`` at the profile's scale."""
    data, hidden, batch_size, epochs, _ = CASES[case]
    hidden = tuple(max(2, width // profile.hidden_divisor) for width in hidden)
    return data, hidden, batch_size, profile.training_epochs or epochs


def load(data, profile):
    """The case's train/test data cut to the profile's samples and features, and its classes."""
    X, Xtest, y, ytest = case_data(data, profile.training_data)
    n_classes = int(max(y.max(), ytest.max())) + 1
    n, k = profile.training_samples, profile.training_features
    if n is not None:
        X, y, Xtest, ytest = X[:n], y[:n], Xtest[:max(1, n // 4)], ytest[:max(1, n // 4)]
    if k is not None:
        X, Xtest = X[:, :k].copy(), Xtest[:, :k].copy()
    return X, Xtest, y, ytest, n_classes


def fastbp_run(X, y, Xtest, ytest, dims, batch_size, epochs, seed=0):
    """Train with fastbp on the GPU after a one-epoch warm-up fit; same result as the baselines."""

    def train(n_epochs):
        model = fastbp_model(dims, backend="cuda")
        history = model.fit(X, y, epochs=n_epochs, batch_size=batch_size,
                            optimizer=fastbp.Adam(1e-3), alpha=ALPHA, seed=seed)
        return model, history.time

    _, warmup = train(1)
    model, seconds = train(epochs)
    accuracy = float((model.forward(Xtest).argmax(1) == ytest).mean())
    return {"epoch_s": seconds, "warmup_epoch_s": warmup[0], "accuracy": accuracy}


def main(argv=None):
    """Run the step; see the module docstring."""
    profile, record = step_arguments(__doc__, argv)
    baseline, run_baseline = training_baselines.choose(profile.simulator)
    record.data.update(baseline=baseline, cases={})
    if profile.simulator:
        record.note(f"simulator: {profile.training_samples} samples of "
                    f"{profile.training_features} features, hidden widths / "
                    f"{profile.hidden_divisor}; timings are meaningless")
    config = cuda_bench.SIMULATOR_LAUNCH_CONFIG if profile.simulator else {}
    with cuda_bench.launch_config(config):
        for case in CASES:
            data, hidden, batch_size, epochs = shrunk(case, profile)
            X, Xtest, y, ytest, n_classes = load(data, profile)
            dims = [X.shape[1], *hidden, n_classes]
            entry = {"dims": dims, "n_train": len(X), "batch_size": batch_size,
                     "epochs": epochs, "dtype": "float32"}
            start = time.perf_counter()
            for side, trainer in (("fastbp", fastbp_run), ("baseline", run_baseline)):
                # one side failing keeps the other's figures and the later cases
                try:
                    entry[side] = trainer(X, y, Xtest, ytest, dims, batch_size, epochs)
                    entry[side]["median_epoch_s"] = statistics.median(entry[side]["epoch_s"])
                except Exception as exc:
                    traceback.print_exc()
                    entry[side] = {"error": f"{type(exc).__name__}: {exc}"}
                    record.fail(f"{case}, {side}: {entry[side]['error']}")
            entry["seconds"] = time.perf_counter() - start
            if "error" not in entry["fastbp"]:
                flops = gemm_flops_per_epoch(dims, len(X))
                entry["gemm_gflop_per_epoch"] = flops / 1e9
                entry["fastbp_gemm_tflops"] = flops / entry["fastbp"]["median_epoch_s"] / 1e12
                if "error" not in entry["baseline"]:
                    entry["speedup"] = (entry["baseline"]["median_epoch_s"]
                                        / entry["fastbp"]["median_epoch_s"])
            record.data["cases"][case] = entry
            record.save()
            print(f"{case}: " + "; ".join(
                f"{side} {entry[side].get('median_epoch_s', float('nan')):.4f} s/epoch, "
                f"accuracy {entry[side].get('accuracy', float('nan')):.3f}"
                for side in ("fastbp", "baseline")), flush=True)
    finish(record)


if __name__ == "__main__":
    main()

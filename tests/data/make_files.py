"""Write this format version's committed model files and their expected outputs.

Run from the repository root: ``python tests/data/make_files.py``. It writes
``v<version>-<kind>.safetensors`` for the current format version, one per kind, and records in
``expected.json`` the inputs, the outputs the saved object gives on them and a SHA-256 of its
parameters. Files of older versions stay as they were committed: the tests load every one of them,
so a change that stops an old file loading fails there.
"""

import hashlib
import json
import pathlib
import warnings

import numpy as np

import fastbp
from fastbp.io import format as fmt

HERE = pathlib.Path(__file__).parent


def parameter_digest(pairs):
    """SHA-256 of every (W, b) pair's bytes, in layer order."""
    digest = hashlib.sha256()
    for W, b in pairs:
        digest.update(np.ascontiguousarray(W).tobytes())
        digest.update(np.ascontiguousarray(b).tobytes())
    return digest.hexdigest()


def objects(rng):
    """(kind, object, input rows, output methods, float rtol, save options) of each kind."""
    X = np.round(rng.standard_normal((40, 4)), 3)
    model = fastbp.Sequential([fastbp.Dense(4, 3, "gelu", dropout=0.1), fastbp.Dense(3, 2, "sigmoid")],
                              loss="binary_cross_entropy", dtype="float32", seed=0)
    optimizer = fastbp.Adam(0.01)
    model.fit(X, rng.integers(0, 2, (40, 2)), epochs=2, batch_size=8, optimizer=optimizer, seed=0)
    classifier = fastbp.MLPClassifier((3,), activation="softplus", max_iter=30, batch_size=8,
                                      learning_rate_init=0.05, random_state=0, dtype="float64")
    classifier.fit(X, np.array(["ant", "bee", "cow"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)])
    regressor = fastbp.MLPRegressor("poisson", (3,), activation="leaky_relu", solver="sgd",
                                    max_iter=3, batch_size=8, random_state=0, dtype="float32")
    regressor.fit(X, rng.poisson(1.0, (40, 2)))
    return [("sequential", model, X, ("forward",), 1e-5, {"optimizer": optimizer}),
            ("mlp_classifier", classifier, X, ("predict", "predict_proba"), 1e-12, {}),
            ("mlp_regressor", regressor, X, ("predict",), 1e-5, {"include_optimizer": True})]


def main():
    warnings.simplefilter("ignore")  # the short fits stop at max_iter on purpose
    expected_path = HERE / "expected.json"
    expected = json.loads(expected_path.read_text()) if expected_path.exists() else {"files": {}}
    for kind, obj, X, methods, rtol, options in objects(np.random.default_rng(0)):
        name = f"v{fmt.FORMAT_VERSION}-{kind}.safetensors"
        fastbp.save(obj, HERE / name, **options)
        rows = X[:5]
        pairs = ([(layer.W, layer.b) for layer in obj.layers] if kind == "sequential"
                 else list(zip(obj.coefs_, obj.intercepts_)))
        expected["files"][name] = {
            "type": type(obj).__name__, "format_version": fmt.FORMAT_VERSION, "X": rows.tolist(),
            "outputs": {m: getattr(obj, m)(rows).tolist() for m in methods}, "rtol": rtol,
            "parameters_sha256": parameter_digest(pairs)}
        print(f"wrote {name}: {(HERE / name).stat().st_size} bytes")
    expected_path.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

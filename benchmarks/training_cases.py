"""The training benchmark's cases (a)-(c): data, architecture, batch size and epochs.

Shared by the CPU suite (``benchmarks/test_training.py``) and the GPU script
(``benchmarks/gpu/``), so both measure the same problems.
"""

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.model_selection import train_test_split

import fastbp

#: case -> (data, hidden widths, batch size, epochs, targets of the CPU suite)
CASES = {
    "a_digits": ("digits", (100,), 200, 50,
                 {"vs_sklearn": 5.0, "vs_torch": 5.0}),
    "b_wide_deep": ("classification", (256, 128), 256, 3,
                    {"vs_sklearn": 2.0, "vs_torch": 2.0, "roofline_ratio_max": 1.3}),
    "c_1024": ("classification", (1024,), 256, 3, {"vs_torch": 1.0}),
}

#: Samples drawn for the synthetic cases, by profile (a fifth is held out for testing).
CLASSIFICATION_SAMPLES = {"full": 100_000, "quick": 10_000}


def case_data(name, profile):
    """Train/test split of a case's data set, float32: ``X, Xtest, y, ytest``.

    Parameters
    ----------
    name : {"digits", "classification"}
    profile : {"quick", "full"}
        Sets the size of the synthetic data set; digits is always whole.
    """
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
    else:
        X, y = make_classification(n_samples=CLASSIFICATION_SAMPLES[profile], n_features=100,
                                   n_informative=20, n_classes=10, random_state=0)
    X = X.astype(np.float32)
    return train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)


def fastbp_model(dims, backend="cpu"):
    """The cases' network in fastbp: ReLU hidden layers, softmax output, cross-entropy, float32.

    Parameters
    ----------
    dims : sequence of int
        Input width, hidden widths, number of classes.
    backend : {"cpu", "cuda", "numpy"}
    """
    # the library's defaults, initialiser included: what a user gets is what is measured
    layers = [fastbp.Dense(a, b, "relu") for a, b in zip(dims[:-2], dims[1:-1])]
    layers.append(fastbp.Dense(dims[-2], dims[-1], "softmax"))
    return fastbp.Sequential(layers, loss="cross_entropy", dtype="float32", backend=backend,
                             seed=0)

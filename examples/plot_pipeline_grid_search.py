"""
``MLPClassifier`` in a grid search
==================================

:class:`fastbp.MLPClassifier` is a scikit-learn estimator: it goes into a
:class:`~sklearn.pipeline.Pipeline`, is cloned and refitted by
:class:`~sklearn.model_selection.GridSearchCV`, and scored like scikit-learn's own
``MLPClassifier``, with the same parameters and defaults. Here a scaler and the classifier are
searched over the hidden width and the L2 penalty on the digits, and the cross-validated scores
plotted.
"""

# %%
# The pipeline and the grid
# -------------------------
# ``early_stopping=True`` holds out a tenth of each training fold and stops when the validation
# score stalls, keeping the best epoch's weights, as in scikit-learn. The parameters of a
# pipeline step are searched under ``<step>__<parameter>``.

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                    stratify=y)

pipeline = make_pipeline(StandardScaler(),
                         fastbp.MLPClassifier(early_stopping=True, random_state=0))
grid = {"mlpclassifier__hidden_layer_sizes": [(16,), (32,), (64,)],
        "mlpclassifier__alpha": [1e-4, 0.1, 1.0]}
search = GridSearchCV(pipeline, grid, cv=3, n_jobs=1)

# %%
# The search
# ----------
# Nine settings, three folds each, then a refit of the best on all the training rows.

start = time.perf_counter()
search.fit(X_train, y_train)
print(f"{len(search.cv_results_['params'])} settings x 3 folds in "
      f"{time.perf_counter() - start:.1f} s")
print("best:", search.best_params_, f"(cross-validated accuracy {search.best_score_:.3f})")
print(f"test accuracy of the refitted pipeline: {search.score(X_test, y_test):.3f}")

# %%
# The scores
# ----------
# Mean cross-validated accuracy of each setting, with the spread over the folds.

results = search.cv_results_
widths = [sizes[0] for sizes in grid["mlpclassifier__hidden_layer_sizes"]]
fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
for alpha in grid["mlpclassifier__alpha"]:
    rows = [i for i, params in enumerate(results["params"])
            if params["mlpclassifier__alpha"] == alpha]
    rows.sort(key=lambda i: results["params"][i]["mlpclassifier__hidden_layer_sizes"][0])
    ax.errorbar(widths, results["mean_test_score"][rows], yerr=results["std_test_score"][rows],
                marker="o", capsize=3, label=f"alpha = {alpha:g}")
ax.set_xscale("log", base=2)
ax.set_xticks(widths, [str(w) for w in widths])
ax.set_xlabel("hidden units")
ax.set_ylabel("cross-validated accuracy")
ax.set_title("GridSearchCV over a fastbp MLPClassifier")
ax.legend()
plt.show()

# %%
# The best model's network
# ------------------------
# The fitted classifier holds scikit-learn's fitted attributes (``coefs_``, ``intercepts_``,
# ``loss_curve_``, ``validation_scores_``, ...), with the weights as views of the network's.

best = search.best_estimator_[-1]
print([W.shape for W in best.coefs_], best.coefs_[0].dtype, f"{best.n_iter_} epochs")
print(np.round(best.validation_scores_[-3:], 3))

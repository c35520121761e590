"""
Training on a Dask cluster
==========================

:class:`~fastbp.dask.DaskMLPClassifier` trains one network data-parallel on the Dask workers that
hold the rows. Here a :class:`~distributed.LocalCluster` of two one-thread worker processes
stands in for a real cluster; the same code runs on many machines with a client of that
cluster. With the default ``sync='gradient'``, every worker takes every optimizer step and the
workers sum their gradients at each step, so the fit follows a local fit: the plot compares the
two loss curves. Needs the ``dask`` extra (``pip install 'fastbp[dask]'``).

The worker processes import this script again when it runs as ``python
plot_dask_local_cluster.py`` (Python's ``spawn`` start method), so the cells that start the
cluster and use it sit under ``if __name__ == "__main__":``, as Dask asks of scripts.
"""

# %%
# The data
# --------
# A synthetic three-class problem, 20,000 rows of 20 features, as a Dask array in four chunks of
# rows. In real use the workers would read the rows themselves (``dask.dataframe.read_parquet``,
# ``dask.array.from_zarr``, ...).

import warnings

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

import fastbp
from fastbp.dask import DaskMLPClassifier

X_np, y_np = make_classification(n_samples=20_000, n_features=20, n_informative=10,
                                 n_classes=3, random_state=0)
X_np = X_np.astype(np.float32)
settings = dict(hidden_layer_sizes=(64,), max_iter=10, batch_size=200, random_state=0)
# ten epochs on purpose: not the end of training, so scikit-learn's ConvergenceWarning is expected
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# The cluster
# -----------
# Two worker processes of one thread each. ``NUMBA_NUM_THREADS=1`` in the workers' environment
# keeps each one to its core, as Dask keeps OpenMP and BLAS to one thread; ``dashboard_address=":0"``
# picks a free port for the dashboard.

if __name__ == "__main__":
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0", env={"NUMBA_NUM_THREADS": "1"})
    client = Client(cluster)
    print(f"{len(client.scheduler_info()['workers'])} workers")

    X = da.from_array(X_np, chunks=(5_000, 20))
    y = da.from_array(y_np, chunks=5_000)
    X, y = client.persist([X, y])  # computed once, kept on the workers

# %%
# Fit on the workers
# ------------------
# ``fit`` leaves the rows where they are; each epoch is one task per worker, and the gradients
# travel directly between the workers (a ring all-reduce), not through the scheduler.
# ``predict``, ``predict_proba`` and ``score`` return Dask arrays, computed on the workers.

if __name__ == "__main__":
    clf = DaskMLPClassifier(**settings, client=client).fit(X, y)
    print(f"{clf.n_iter_} epochs on {len(clf.workers_)} workers, rows per worker "
          f"{clf.rows_per_worker_}, {clf.steps_per_epoch_} steps per epoch")
    print(f"seconds per epoch: {np.round(clf.epoch_seconds_, 2)}")
    print(f"training accuracy: {clf.score(X, y).compute():.3f}")

    local_model = clf.to_local()  # the plain fastbp.MLPClassifier: fastbp.save writes it
    print(type(local_model).__name__, [W.shape for W in local_model.coefs_])

# %%
# The same fit, locally
# ---------------------
# The local estimator with the same settings on the same rows, for comparison.

if __name__ == "__main__":
    local = fastbp.MLPClassifier(**settings).fit(X_np, y_np)
    print(f"local training accuracy: {local.score(X_np, y_np):.3f}")

# %%
# Close the cluster
# -----------------

if __name__ == "__main__":
    client.close()
    cluster.close()

# %%
# The loss curves
# ---------------
# The Dask fit took the local fit's steps on global batches of the same size; its curve follows
# the local one (the row order differs: each worker shuffles its own rows).

if __name__ == "__main__":
    epochs = np.arange(1, clf.n_iter_ + 1)
    fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
    ax.plot(epochs, clf.loss_curve_, marker="o", label="DaskMLPClassifier, 2 workers")
    ax.plot(np.arange(1, local.n_iter_ + 1), local.loss_curve_, marker="s", ls="--",
            label="MLPClassifier, local")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.set_title("sync='gradient' on a LocalCluster")
    ax.legend()
    plt.show()

"""Full-batch training with scipy's L-BFGS-B on a Sequential's loss and backpropagated gradient.

:func:`minimize` (with :func:`report`) is the optimiser's side: it takes any callable giving the
loss and gradient over the whole data set, so the local fit (:func:`fit_lbfgs`, one
``Sequential.loss_and_gradient`` per evaluation) and the Dask fit (:mod:`fastbp.dask.lbfgs`, the
workers' sums) run the very same scipy call with the same L2 penalty.
"""

import warnings

import numpy as np
import scipy.optimize


def weight_mask(model):
    """Where the penalised parameters are.

    Parameters
    ----------
    model : Sequential

    Returns
    -------
    ndarray of bool, shape (n_params,)
        True at the flat positions of weights (penalised), False at biases.
    """
    mask = np.zeros(model.n_params, bool)
    for W, _ in model.layer_views(mask):
        W[...] = True
    return mask


def minimize(loss_and_gradient, theta, penalty, is_weight, max_iter, max_fun, tol):
    """Minimise ``loss(theta) + penalty / 2 * ||theta[is_weight]||^2`` with scipy's L-BFGS-B.

    scikit-learn's ``solver='lbfgs'``: one L-BFGS-B run on the whole data set, in float64 whatever
    the model's dtype (scipy's optimiser computes in float64).

    Parameters
    ----------
    loss_and_gradient : callable
        ``theta -> (loss, gradient)``, both without the penalty: ``theta`` a float64 ndarray of
        shape (n_params,) that the callable must not keep or change, ``loss`` a float and
        ``gradient`` a float64 ndarray of shape (n_params,) that this function owns afterwards
        (it adds the penalty in place).
    theta : ndarray, shape (n_params,), float64
        The starting point.
    penalty : float
        The L2 factor, ``alpha / n`` in scikit-learn's terms.
    is_weight : ndarray of bool, shape (n_params,)
        The penalised positions (:func:`weight_mask`).
    max_iter, max_fun : int
    tol : float
        Projected-gradient tolerance (scipy's ``gtol``).

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x`` (float64, shape (n_params,)) the last point, ``fun`` the loss there with the
        penalty; hand it to :func:`report`.
    """
    def penalised(theta):
        loss, grad = loss_and_gradient(theta)
        weights = np.where(is_weight, theta, 0.0)
        grad += penalty * weights
        return loss + 0.5 * penalty * float(weights @ weights), grad

    return scipy.optimize.minimize(
        penalised, theta, method="L-BFGS-B", jac=True,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol})


def report(result, max_iter, verbose, stacklevel=1):
    """The summary line and the ConvergenceWarning of a :func:`minimize` run, and its figures.

    Called once the caller has kept ``result.x``: a warning turned into an error must find the
    model trained.

    Parameters
    ----------
    result : scipy.optimize.OptimizeResult
    max_iter : int
    verbose : bool
        Print a summary line.
    stacklevel : int, default=1
        Where the ConvergenceWarning points, as ``warnings.warn`` counts it from the caller of
        this function.

    Returns
    -------
    loss : float
        The final loss, penalty included.
    n_iter : int
    """
    if verbose:  # scipy >= 1.15 ignores its own 'disp'/'iprint' options: report here
        print(f"lbfgs: {result.nit} iterations, {result.nfev} evaluations, loss = {result.fun:.8f}"
              f" ({result.message})", flush=True)
    if result.status != 0:
        from sklearn.exceptions import ConvergenceWarning

        warnings.warn(f"lbfgs failed to converge after {result.nit} iterations "
                      f"(status={result.status}): {result.message}. Increase max_iter or max_fun, "
                      f"or scale the data.", ConvergenceWarning, stacklevel=stacklevel + 1)
    return float(result.fun), min(int(result.nit), max_iter)


def fit_lbfgs(model, X, Y, weight, alpha, max_iter, max_fun, tol, verbose):
    """Minimise ``loss + alpha / (2 n) * ||W||^2`` over every parameter of ``model``, in place.

    Parameters
    ----------
    model : Sequential
    X : ndarray, shape (n, n_inputs), of the model's dtype, C-contiguous
    Y : ndarray, shape (n, n_outputs), of the model's dtype
    weight : ndarray, shape (n,)
        Per-sample weights summing to 1.
    alpha : float
    max_iter, max_fun : int
    tol : float
        Projected-gradient tolerance (scipy's ``gtol``).
    verbose : bool
        Print a summary line at the end.

    Returns
    -------
    loss : float
        The final loss, penalty included.
    n_iter : int
    """
    def loss_and_gradient(theta):
        model.set_parameters(theta.astype(model.dtype, copy=False))
        loss, grad = model.loss_and_gradient(X, Y, weight)
        return loss, grad.astype(np.float64)

    result = minimize(loss_and_gradient, model.parameters.astype(np.float64), alpha / X.shape[0],
                      weight_mask(model), max_iter, max_fun, tol)
    model.set_parameters(result.x.astype(model.dtype))
    # the warning points where it always has: the estimator's _transaction, three frames above
    # this function
    return report(result, max_iter, verbose, stacklevel=4)

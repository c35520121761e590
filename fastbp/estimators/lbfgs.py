"""Full-batch training with scipy's L-BFGS-B on a Sequential's loss and backpropagated gradient."""

import warnings

import numpy as np
import scipy.optimize


def _weight_mask(model):
    """True at the flat positions of weights (penalised), False at biases."""
    mask = np.zeros(model.n_params, bool)
    for W, _ in model.layer_views(mask):
        W[...] = True
    return mask


def fit_lbfgs(model, X, Y, weight, alpha, max_iter, max_fun, tol, verbose):
    """Minimise ``loss + alpha / (2 n) * ||W||^2`` over every parameter of ``model``, in place.

    scikit-learn's ``solver='lbfgs'``: one L-BFGS-B run on the whole data set, in float64 whatever
    the model's dtype (scipy's optimiser computes in float64).

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
    penalty = alpha / X.shape[0]
    is_weight = _weight_mask(model)

    def loss_and_gradient(theta):
        model.set_parameters(theta.astype(model.dtype, copy=False))
        loss, grad = model.loss_and_gradient(X, Y, weight)
        grad = grad.astype(np.float64)
        weights = np.where(is_weight, theta, 0.0)
        grad += penalty * weights
        return loss + 0.5 * penalty * float(weights @ weights), grad

    result = scipy.optimize.minimize(
        loss_and_gradient, model.parameters.astype(np.float64), method="L-BFGS-B", jac=True,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol})
    model.set_parameters(result.x.astype(model.dtype))
    if verbose:  # scipy >= 1.15 ignores its own 'disp'/'iprint' options: report here
        print(f"lbfgs: {result.nit} iterations, {result.nfev} evaluations, loss = {result.fun:.8f}"
              f" ({result.message})", flush=True)
    if result.status != 0:
        from sklearn.exceptions import ConvergenceWarning

        warnings.warn(f"lbfgs failed to converge after {result.nit} iterations "
                      f"(status={result.status}): {result.message}. Increase max_iter or max_fun, "
                      f"or scale the data.", ConvergenceWarning, stacklevel=4)
    return float(result.fun), min(int(result.nit), max_iter)

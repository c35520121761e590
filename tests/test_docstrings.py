"""The public API's docstrings tell the truth: numpydoc's validation of every public name, and the
allowed values the estimators document against the ones their parameter validation accepts.

numpydoc's checks enforced here (its codes): GL08 every public name has a docstring; PR01 every
parameter is documented; PR02 every documented parameter exists; PR07 every documented parameter
has a description. The other codes (a See Also section, an Examples section on every method, ...)
are style, not truth, and are left to review.
"""

import inspect
import re

import pytest
from numpydoc.validate import validate

import fastbp
import fastbp.callbacks
import fastbp.io

CHECKED = {"GL08", "PR01", "PR02", "PR07"}
MODULES = {"fastbp": fastbp, "fastbp.io": fastbp.io, "fastbp.callbacks": fastbp.callbacks}


def _dask_module():
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    import fastbp.dask

    return fastbp.dask


def _public_names(name, module):
    """Qualified names of a module's public functions and classes, and of their classes' public
    methods and properties (inherited ones are checked where they are defined, except those of
    the mixins of :mod:`fastbp.sequential` that :class:`fastbp.Sequential` is made of: they are
    checked as Sequential's)."""
    exported = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    for attribute in exported:
        obj = getattr(module, attribute)
        if inspect.ismodule(obj) or not (inspect.isclass(obj) or callable(obj)):
            continue
        if getattr(obj, "__module__", "").split(".")[0] != "fastbp":
            continue  # a name re-exported from elsewhere (a typing helper, say)
        yield f"{name}.{attribute}"
        if inspect.isclass(obj):
            mixins = [base for base in obj.__mro__[1:]
                      if base.__module__.startswith("fastbp.sequential.")]
            members = {}
            for klass in reversed([obj, *mixins]):
                members.update(vars(klass))
            for member, value in members.items():
                if member.startswith("_"):
                    continue
                if inspect.isfunction(value) or isinstance(value, (property, classmethod,
                                                                   staticmethod)):
                    yield f"{name}.{attribute}.{member}"


def _all_public_names():
    modules = dict(MODULES)
    modules["fastbp.dask"] = _dask_module()
    return sorted({qualified for name, module in modules.items()
                   for qualified in _public_names(name, module)})


def _errors(qualified):
    return [f"{qualified}: {code} {message}" for code, message in validate(qualified)["errors"]
            if code in CHECKED]


def test_every_public_name_passes_numpydocs_checks():
    names = _all_public_names()
    assert len(names) > 60  # the walk found the API, not an empty list
    errors = [error for name in names for error in _errors(name)]
    assert not errors, "\n".join(errors)


def test_the_check_catches_an_undocumented_parameter():
    """The validation above can fail: a function with a missing and a stale parameter."""
    errors = {code for code, _ in validate(f"{__name__}._badly_documented")["errors"]}
    assert {"PR01", "PR02"} <= errors


def _badly_documented(alpha, beta):
    """Add two numbers.

    Parameters
    ----------
    alpha : float
        The first.
    gamma : float
        Not a parameter.

    Returns
    -------
    float
        The sum.
    """
    return alpha + beta


def _documented_options(docstring, parameter):
    """The ``{'a', 'b'}`` set a numpydoc parameter line gives, or None."""
    match = re.search(rf"^\s*{re.escape(parameter)} : \{{([^}}]*)\}}", docstring, re.MULTILINE)
    if match is None:
        return None
    return {item.strip().strip("'\"") for item in match.group(1).replace("\\\n", "").split(",")
            if item.strip().startswith(("'", '"'))}


def _accepted_options(constraints):
    from sklearn.utils._param_validation import StrOptions

    found = set()
    for constraint in constraints:
        if isinstance(constraint, StrOptions):
            found |= set(constraint.options)
    return found


def _estimators():
    dask = _dask_module()
    return [fastbp.MLPClassifier, fastbp.MLPRegressor, dask.DaskMLPClassifier,
            dask.DaskMLPRegressor]


@pytest.mark.parametrize("estimator", _estimators(), ids=lambda cls: cls.__name__)
def test_documented_options_are_the_accepted_ones(estimator):
    """Every string option a parameter's docstring lists is accepted, and every accepted one is
    listed (a docstring that says {'cpu', 'numpy'} while 'cuda' is accepted fails)."""
    checked = 0
    for parameter, constraints in estimator._parameter_constraints.items():
        documented = _documented_options(estimator.__doc__, parameter)
        accepted = _accepted_options(constraints)
        if documented is None or not accepted:
            continue
        checked += 1
        assert documented == accepted, (parameter, documented, accepted)
    assert checked >= 5  # activation, solver, batch_size, learning_rate, backend, ...

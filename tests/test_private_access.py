"""fastbp.dask and fastbp.io use other modules only through their public names.

Both packages sit on top of the estimators, the optimizers and the fit loop, and reach their
training state through :mod:`fastbp.estimators.training` and :mod:`fastbp.training.fit`'s public
names. A static scan (Python's ``ast``, nothing is imported or run) of every ``.py`` file under
each package flags, with ``file:line``:

(a) ``obj._name``, an attribute with one leading underscore (dunders are Python's, not private),
    unless ``obj`` is

    - ``self``, ``cls`` or ``super()``: the object's own class hierarchy;
    - a module of the file's own package, bound by ``from . import module``: a package's modules
      share its private names.

    The same goes for the spellings that hide the name in a string: ``getattr``, ``setattr``,
    ``hasattr`` and ``delattr`` with a literal private name, and ``obj.__dict__`` or ``vars(obj)``
    indexed, tested (``in``) or read with ``get``/``pop``/``setdefault`` by one.

    Names allowed on any object, each a documented public interface spelled with an underscore:

    - ``_parameter_constraints``: scikit-learn's class attribute through which estimators declare
      their parameter validation, meant to be extended by estimators built on another (its
      developer guide does so);
    - ``_asdict``, ``_field_defaults``, ``_fields``, ``_make``, ``_replace``: the documented API of
      ``typing.NamedTuple``/``collections.namedtuple``, underscored to keep clear of field names.

(b) ``from module import _name`` (or ``import`` of a path with a private component) where the
    module is in another fastbp package: a relative import with two or more dots, or an absolute
    ``fastbp.`` path outside the file's own package. Third-party libraries' private names
    (scikit-learn's ``_fit_context``, say) are outside this test: they are those libraries'
    business, and fastbp pins the versions it supports.
"""

import ast
import pathlib
import textwrap

import pytest

import fastbp

ROOT = pathlib.Path(fastbp.__file__).resolve().parent
PACKAGES = ("dask", "io")

OWN = frozenset({"self", "cls"})
ALLOWED_ATTRIBUTES = frozenset({
    "_parameter_constraints",
    "_asdict", "_field_defaults", "_fields", "_make", "_replace",
})
NAME_FUNCTIONS = frozenset({"getattr", "setattr", "hasattr", "delattr"})
DICT_METHODS = frozenset({"get", "pop", "setdefault"})


def is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _literal_private(node):
    """The private name a string literal holds, or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and is_private(node.value):
        return node.value
    return None


class Scanner(ast.NodeVisitor):
    """Collects the violations of one module; see the module docstring for the rules."""

    def __init__(self, filename, package):
        self.filename = filename
        self.package = package  # dotted, e.g. "fastbp.io"
        self.own_modules = set()  # names bound by ``from . import module``
        self.violations = []

    def flag(self, node, message):
        self.violations.append(f"{self.filename}:{node.lineno}: {message}")

    # ---- receivers ------------------------------------------------------------------------------
    def _own(self, receiver):
        """Whether private names of ``receiver`` are the file's own business."""
        if isinstance(receiver, ast.Name):
            return receiver.id in OWN or receiver.id in self.own_modules
        return (isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Name)
                and receiver.func.id == "super")

    def _dict_owner(self, node):
        """``obj`` when ``node`` is ``obj.__dict__`` or ``vars(obj)``; else None."""
        if isinstance(node, ast.Attribute) and node.attr == "__dict__":
            return node.value
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "vars" and len(node.args) == 1):
            return node.args[0]
        return None

    def _check_dict_key(self, node, owner, key):
        name = _literal_private(key)
        if owner is not None and name is not None and not self._own(owner):
            self.flag(node, f"private attribute {name!r} read through {ast.unparse(node)[:60]}")

    # ---- (a) attributes -------------------------------------------------------------------------
    def visit_Attribute(self, node):
        if (is_private(node.attr) and node.attr not in ALLOWED_ATTRIBUTES
                and not self._own(node.value)):
            self.flag(node, f"private attribute {ast.unparse(node.value)[:40]}.{node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Name) and func.id in NAME_FUNCTIONS and len(node.args) >= 2:
            name = _literal_private(node.args[1])
            if name is not None and name not in ALLOWED_ATTRIBUTES \
                    and not self._own(node.args[0]):
                self.flag(node, f"private attribute {name!r} through {func.id}")
        if isinstance(func, ast.Attribute) and func.attr in DICT_METHODS and node.args:
            self._check_dict_key(node, self._dict_owner(func.value), node.args[0])
        self.generic_visit(node)

    def visit_Subscript(self, node):
        self._check_dict_key(node, self._dict_owner(node.value), node.slice)
        self.generic_visit(node)

    def visit_Compare(self, node):
        for op, right in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                self._check_dict_key(node, self._dict_owner(right), node.left)
        self.generic_visit(node)

    # ---- (b) imports ----------------------------------------------------------------------------
    def _foreign(self, module):
        """Whether the absolute module path lies outside the file's own package."""
        return not (module == self.package or module.startswith(self.package + "."))

    def visit_ImportFrom(self, node):
        parts = node.module.split(".") if node.module else []
        if node.level >= 2:
            foreign, where = True, "." * node.level + (node.module or "")
        elif node.level == 0:
            foreign = parts[0] == "fastbp" and self._foreign(node.module)
            where = node.module
        else:
            foreign, where = False, None
        if foreign:
            for part in parts:
                if is_private(part):
                    self.flag(node, f"import from the private module {where}")
                    break
            for alias in node.names:
                if is_private(alias.name):
                    self.flag(node, f"import of the private name {alias.name} from {where}")
        self.generic_visit(node)

    def visit_Import(self, node):
        for alias in node.names:
            parts = alias.name.split(".")
            if parts[0] == "fastbp" and self._foreign(alias.name) \
                    and any(is_private(part) for part in parts):
                self.flag(node, f"import of the private module {alias.name}")
        self.generic_visit(node)


def scan_source(source, filename, package):
    """The violations in ``source``, a module of the dotted ``package``, as ``file:line: what``."""
    tree = ast.parse(source, filename=filename)
    scanner = Scanner(filename, package)
    # imports first: ``from . import module`` may come after a function that uses the module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:
            scanner.own_modules.update(alias.asname or alias.name for alias in node.names)
    scanner.visit(tree)
    return scanner.violations


def scan_package(name):
    folder = ROOT / name
    violations = []
    for path in sorted(folder.rglob("*.py")):
        inner = path.relative_to(ROOT).parent.parts
        package = ".".join(("fastbp", *inner))
        filename = str(path.relative_to(ROOT.parent))
        violations += scan_source(path.read_text(encoding="utf-8"), filename, package)
    return violations


@pytest.mark.parametrize("package", PACKAGES)
def test_no_private_access_across_modules(package):
    assert list((ROOT / package).rglob("*.py")), f"nothing to scan under fastbp/{package}"
    violations = scan_package(package)
    assert not violations, (f"fastbp/{package} uses private names of other modules "
                            f"(use fastbp.estimators.training / fastbp.training.fit's public "
                            f"names):\n" + "\n".join(violations))


def test_the_scanner_catches_each_kind_of_violation():
    """Each rule fires on a line made to break it, and on none of the allowed spellings, so the
    package cases cannot pass by scanning nothing."""
    source = textwrap.dedent("""\
        from .. import _LAZY
        from ..training.fit import _train, train
        from fastbp.training.fit import _Plan
        from fastbp.kernels._impl import run
        import fastbp.training._hidden
        from . import state, _own_helper
        from .format import _fail
        from fastbp.io.format import _also_fine
        from sklearn.base import _fit_context


        class Thing(Base):
            _parameter_constraints = {**Base._parameter_constraints}

            def method(self, estimator, other):
                estimator._network()
                other.model._stopping.reset()
                self._mine = state._helper(self._x, cls._y)
                super()._keep()
                getattr(estimator, "_optimizer")
                setattr(self, "_fine", 1)
                estimator.__dict__.get("_schedule")
                vars(estimator)["_best_parameters"]
                "_label_binarizer" in vars(estimator)
                "feature_names_in_" in vars(estimator)
                row._replace(a=1)._asdict()
                estimator.__class__
                return format._private
        """)
    found = scan_source(source, "fastbp/io/example.py", "fastbp.io")
    lines = sorted(int(v.split(":")[1]) for v in found)
    assert lines == [1, 2, 3, 4, 5, 16, 17, 20, 22, 23, 24, 28], "\n".join(found)
    assert any("_train" in v for v in found) and not any("'train'" in v for v in found)


def test_the_scanner_reads_the_real_files():
    """A known private use in a real file is reported with its file and line (the io package is
    clean, so the check uses a copy with one added)."""
    path = ROOT / "io" / "state.py"
    source = path.read_text(encoding="utf-8") + "\n\ndef peek(estimator):\n" \
                                                "    return estimator._optimizer\n"
    found = scan_source(source, "fastbp/io/state.py", "fastbp.io")
    n_lines = len(source.splitlines())
    assert found == [f"fastbp/io/state.py:{n_lines}: private attribute estimator._optimizer"]

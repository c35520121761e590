"""No import circle among fastbp's modules.

A static scan (Python's ``ast``; nothing is imported or run) of every ``.py`` file of ``fastbp``
and of ``fastbp.kernels`` (installed from ``kernels/``) builds the graph of module-level imports:
those run when a module is first imported, including the ones in a class body or under a
module-level ``if``/``try``, but not those inside a function (a lazy import runs when the function
is called, after every module involved has finished loading) nor under ``if TYPE_CHECKING:``. An
edge goes to the module an import names: ``from . import layers`` to ``fastbp.layers``,
``from .model import Sequential`` to ``fastbp.model``, ``from .. import x`` (a name of the package)
to the package itself. A subpackage's implicit import of its parents is not an edge: every module
has one, and Python finishes a package's ``__init__`` before any of its modules can ask for it.
The test fails on any cycle and names it; the self-test below shows it finds one.
"""

import ast
import importlib.util
import pathlib
import textwrap

import fastbp

ROOTS = {"fastbp": pathlib.Path(fastbp.__file__).resolve().parent,
         "fastbp.kernels": pathlib.Path(
             importlib.util.find_spec("fastbp.kernels").submodule_search_locations[0]).resolve()}


def module_files(roots):
    """``{dotted module name: path}`` for every ``.py`` file under each root package."""
    found = {}
    for package, root in roots.items():
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            # a file under fastbp/ that another root claims (none today) belongs to that root
            found.setdefault(name, path)
    return found


def _is_package(name, modules):
    return modules[name].name == "__init__.py"


def _module_level_imports(tree):
    """The Import/ImportFrom nodes that run when the module is imported."""
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))


def _targets(node, name, modules):
    """The modules of ``modules`` that one import statement in module ``name`` loads by name."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            parts = alias.name.split(".")
            # ``import a.b.c`` loads a.b.c; its deepest prefix that is one of ours is the edge
            for end in range(len(parts), 0, -1):
                if ".".join(parts[:end]) in modules:
                    yield ".".join(parts[:end])
                    break
        return
    if node.level:
        package = name if _is_package(name, modules) else name.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in modules:
            yield submodule
        elif base in modules:
            yield base


def import_graph(modules):
    """``{module: set of modules it imports at module level}`` over ``modules``."""
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = {target for node in _module_level_imports(tree)
                       for target in _targets(node, name, modules) if target != name}
    return graph


def find_cycle(graph):
    """One import circle as a list of modules (the first repeated at the end), or None."""
    state = {}  # 1 while on the current path, 2 once every path from it is explored
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            following = next(stack[-1], None)
            if following is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(following) == 1:
                return path[path.index(following):] + [following]
            elif not state.get(following):
                state[following] = 1
                path.append(following)
                stack.append(iter(sorted(graph.get(following, ()))))
    return None


def test_fastbp_has_no_import_circle():
    modules = module_files(ROOTS)
    assert {"fastbp", "fastbp.model", "fastbp.io.native", "fastbp.kernels.cpu"} <= set(modules)
    graph = import_graph(modules)
    # the scan sees real edges: the package's face imports the model, the model the kernels' codes
    assert "fastbp.model" in graph["fastbp"]
    assert "fastbp.kernels.codes" in graph["fastbp.model"]
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def _package(tmp_path, files):
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return module_files({"pkg": root})


def test_self_test_finds_a_circle_and_ignores_lazy_imports(tmp_path):
    modules = _package(tmp_path, {
        "__init__.py": "from .model import Model\n",
        "model.py": """
            class Model:
                from .io import helpers  # a class body runs at import: this counts
            """,
        "io/__init__.py": "from .native import save\n",
        "io/helpers.py": "",
        "io/native.py": """
            from ..model import Model

            def save():
                from .. import model  # lazy: not an edge
            """,
        "estimators.py": """
            import pkg.model

            def fit():
                from .io import native
            """,
    })
    graph = import_graph(modules)
    assert graph["pkg.model"] == {"pkg.io.helpers"}
    assert graph["pkg.io.native"] == {"pkg.model"}
    assert graph["pkg.estimators"] == {"pkg.model"}
    assert graph["pkg.io"] == {"pkg.io.native"}
    assert find_cycle(graph) is None  # model -> io.helpers only: no way back to model

    modules = _package(tmp_path, {"io/helpers.py": "from ..estimators import fit\n"})
    cycle = find_cycle(import_graph(modules))
    assert cycle == ["pkg.model", "pkg.io.helpers", "pkg.estimators", "pkg.model"]


def test_self_test_reads_the_package_of_a_relative_import(tmp_path):
    modules = _package(tmp_path, {
        "__init__.py": "",
        "a/__init__.py": "from . import b\n",  # inside a package: ``.`` is pkg.a itself
        "a/b.py": "from .. import c\n",          # pkg.c, a module
        "c.py": "from .a import b\n",            # pkg.a.b: a circle a.b -> c -> a.b
    })
    graph = import_graph(modules)
    assert graph == {"pkg": set(), "pkg.a": {"pkg.a.b"}, "pkg.a.b": {"pkg.c"},
                     "pkg.c": {"pkg.a.b"}}
    assert find_cycle(graph) == ["pkg.a.b", "pkg.c", "pkg.a.b"]

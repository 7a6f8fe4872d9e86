"""The package's import graph: no cycles (imports inside functions count; those under
`if TYPE_CHECKING:` do not, they never run), imports go one way through the stages, and the runtime
package never imports the evaluation tooling (one exception: `qa-service eval`). See ARCHITECTURE.md."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "qa_service"


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def _enclosing_functions(tree: ast.AST) -> dict[int, str]:
    """id(node) -> the name of the outermost function it sits in."""
    out: dict[int, str] = {}
    for top in ast.walk(tree):
        if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for n in ast.walk(top):
                out.setdefault(id(n), top.name)
    return out


# The one import of the evaluation tooling the package may make: `qa-service eval`, lazily, in the
# command itself (module, function, imported module).
TOOLING_EXCEPTION = ("qa_service.cli", "cmd_eval", "evaluation.evaluate")


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        pkg = m if f.name == "__init__.py" else m.rsplit(".", 1)[0]
        tree = ast.parse(f.read_text(encoding="utf-8"))
        skip = _type_checking_nodes(tree)
        functions = _enclosing_functions(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                targets = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph[m].update(t for t in targets if t in mods and t != m)
            tooling = [t for t in targets if t.split(".")[0] in ("evaluation", "benchmarks", "tests")]
            if tooling and (m, functions.get(id(node)), tooling[0]) != TOOLING_EXCEPTION:
                graph[m].add("<tooling>")
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_walker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle():
    graph = import_graph()
    assert "qa_service.service.build" in graph and "qa_service.qa.answerer" in graph["qa_service.qa"]
    assert cycles(graph) == []


# The stages, lowest first. A module imports only from its own package or from a lower stage;
# packages sharing a stage (corpus beside clinical, both above text) never import each other.
STAGES: list[tuple[str, ...]] = [
    ("qa_service", "qa_service.domain", "qa_service.config"),
    ("qa_service.text",),
    ("qa_service.corpus", "qa_service.clinical"),
    ("qa_service.index",),
    ("qa_service.qa",),
    ("qa_service.service",),
    ("qa_service.web",),
    ("qa_service.cli",),
]


def stage_of(module: str) -> tuple[int, str]:
    """(stage number, owning package) of a module: the longest STAGES entry it is or sits under."""
    best: tuple[int, str] | None = None
    for rank, names in enumerate(STAGES):
        for name in names:
            if (module == name or module.startswith(name + ".")) and (best is None or len(name) > len(best[1])):
                best = (rank, name)
    assert best is not None, module
    return best


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for m, deps in graph.items():
        rank, owner = stage_of(m)
        for d in deps - {"<tooling>"}:
            d_rank, d_owner = stage_of(d)
            if d_owner != owner and d_rank >= rank:
                bad.append(f"{m} -> {d}")
    return sorted(bad)


def test_every_module_has_a_stage():
    for m in import_graph():
        stage_of(m)
    assert stage_of("qa_service.text.clean") == (1, "qa_service.text")
    assert stage_of("qa_service.config") == (0, "qa_service.config")


def test_the_stage_check_catches_an_upward_import():
    assert upward_imports({"qa_service.text.clean": {"qa_service.index.bm25"}}) == [
        "qa_service.text.clean -> qa_service.index.bm25"]
    assert upward_imports({"qa_service.corpus.store": {"qa_service.clinical.rarity"}}) != []  # same stage
    assert upward_imports({"qa_service.web.app": {"qa_service.qa.answerer", "qa_service.web.api"}}) == []


def test_imports_go_one_way_through_the_stages():
    assert upward_imports(import_graph()) == []


def test_the_runtime_package_does_not_import_evaluation_tooling():
    assert [m for m, deps in import_graph().items() if "<tooling>" in deps] == []


def test_the_one_tooling_import_is_the_eval_command():
    """The exception is exactly `from evaluation.evaluate import ...` inside cli.cmd_eval: the same
    import anywhere else in cli.py is still caught."""
    tree = ast.parse((PACKAGE / "cli.py").read_text(encoding="utf-8"))
    functions = _enclosing_functions(tree)
    found = [(functions.get(id(n)), n.module) for n in ast.walk(tree)
             if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("evaluation")]
    assert found == [("cmd_eval", "evaluation.evaluate")]

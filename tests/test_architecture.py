"""The layering rules of docs/architecture.md hold for every module, and the page names every module."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "s2i"
DOC = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text()
RANK = {"skeleton": 0, "atomic": 0, "outputs": 0, "progress": 0, "config_files": 0, "lazy": 0, "formats": 1,
        "readers": 1, "sources": 2, "store": 2, "encode": 3, "data": 3, "models": 4, "lightning_progress": 4,
        "training": 5, "evaluation": 5,
        "report": 6, "testing": 6, "embedding": 6, "demo": 6, "bundle": 6, "cli": 7}


def unit(module: Path) -> str:
    """The layer unit of a module: its top-level package, or the top-level module's own name."""
    return module.relative_to(SRC).parts[0].removesuffix(".py")


def imported_units(module: Path, text: str | None = None) -> set[str]:
    """Top-level s2i units a module imports, at module level or inside functions."""
    tree = ast.parse(module.read_text() if text is None else text)
    pkg = module.relative_to(SRC).parent.parts
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(pkg[: len(pkg) - (node.level - 1)]) if node.level > 1 else list(pkg)
                parts = base + (node.module.split(".") if node.module else [])
                names = parts[:1] if parts else [a.name for a in node.names]
            elif node.module and node.module.split(".")[0] == "s2i":
                names = node.module.split(".")[1:2] or [a.name for a in node.names]
            else:
                continue
            out.update(n for n in names if n in RANK)
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names
                       if a.name.startswith("s2i.") and a.name.split(".")[1] in RANK)
    return out


MODULES = sorted(p for p in SRC.rglob("*.py") if p.parent != SRC or p.stem not in ("__init__", "__main__"))


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_imports_a_higher_layer(module):
    me = unit(module)
    assert me in RANK, f"{module.relative_to(SRC)}: a new top-level unit needs a rank in docs/architecture.md"
    upward = {u for u in imported_units(module) if RANK[u] > RANK[me]}
    assert not upward, f"{module.relative_to(SRC)} (rank {RANK[me]}) imports higher layer(s) {sorted(upward)}"


def test_no_import_cycles_between_units():
    graph = {u: set() for u in RANK}
    for m in MODULES:
        graph[unit(m)] |= imported_units(m) - {unit(m)}
    state: dict[str, int] = {}

    def visit(u, path):
        state[u] = 1
        for v in graph[u]:
            assert state.get(v) != 1, f"import cycle: {' -> '.join([*path, u, v])}"
            if v not in state:
                visit(v, [*path, u])
        state[u] = 2

    for u in graph:
        if u not in state:
            visit(u, [])


def test_architecture_page_names_every_module():
    missing = []
    for m in MODULES:
        rel = m.relative_to(SRC)
        if rel.name == "__init__.py" and rel.parts[0] != "cli":
            continue
        path = "/".join(rel.parts)
        pkg, stem = "/".join(rel.parts[:-1]), rel.stem
        listed = f"`{path}`" in DOC or any(f"`{pkg}/<" in line and f"`{stem}`" in line for line in DOC.splitlines())
        if not listed:
            missing.append(path)
    assert not missing, f"docs/architecture.md does not name {missing}"


def test_the_rule_sees_lazy_relative_and_absolute_imports():
    where = SRC / "formats" / "spec.py"
    assert imported_units(where, "def f():\n    from ..encode import S2IEncoder\n") == {"encode"}
    assert imported_units(where, "import s2i.training.fit\n") == {"training"}
    assert imported_units(where, "from s2i import cli\n") == {"cli"}
    assert imported_units(where, "from .spec import X\nfrom .. import skeleton\n") == {"formats", "skeleton"}


def _from_imports(module: Path) -> list[str]:
    """The dotted names of a module's ``from X import`` statements (relative ones with their dots)."""
    return ["." * node.level + (node.module or "") for node in ast.walk(ast.parse(module.read_text()))
            if isinstance(node, ast.ImportFrom)]


def test_evaluation_stands_beside_training_not_on_it():
    """evaluation/ reads configs through config_files, splits through store and draws Lightning's bar through
    lightning_progress: it imports nothing of training/. The feature API pools tokens with the models, not
    through evaluation/."""
    for m in sorted((SRC / "evaluation").glob("*.py")):
        uses = [n for n in _from_imports(m) if "training" in n.split(".")]
        assert not uses, f"evaluation/{m.name} imports {uses}"
    assert not [n for n in _from_imports(SRC / "embedding.py") if "evaluation" in n.split(".")]

"""The stage rule of docs/ARCHITECTURE.md ("One flow, five stages") as a test, and no import cycles.

Every module in ``charz/`` is parsed with ``ast`` (nothing is imported); every ``import`` / ``from ...
import`` statement counts, at module level or inside a function, relative or absolute, under
``TYPE_CHECKING`` or not. A ``from PKG import NAME`` is an edge to ``PKG.NAME`` when that is a charz
module, else to ``PKG`` (a package's ``__init__`` re-exports count as that ``__init__``'s own edges).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "charz"

# A module's stage: the shared package it sits in, or (inside a block family folder charz/blocks/<family>/)
# the start of its file name: netlist*.py, recipe*.py / check*.py, model*.py, plots*.py.
SHARED = {"charz.netlist": "netlist", "charz.characterize": "recipe", "charz.behavior": "model",
          "charz.plot": "plots", "charz.network": "network", "charz.sim": "sim", "charz.core": "core"}
FILE_STAGES = (("netlist", "netlist"), ("recipe", "recipe"), ("check", "recipe"), ("model", "model"),
               ("plots", "plots"))

# stage -> the stages it must not import from
FORBIDDEN = {
    "netlist": ("model", "sim", "network", "recipe", "plots"),
    "model": ("netlist", "sim", "recipe", "network"),
    "network": ("netlist", "sim", "recipe"),
    "core": ("netlist", "model", "sim", "recipe", "network", "plots", "other"),
}


def stage(module: str) -> str:
    """The stage of a charz module (``other`` for the command line, the registry, the demo, ...)."""
    parts = module.split(".")
    if len(parts) >= 4 and parts[1] == "blocks":
        for prefix, name in FILE_STAGES:
            if parts[3].startswith(prefix):
                return name
        return "other"
    for package, name in SHARED.items():
        if module == package or module.startswith(package + "."):
            return name
    return "other"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    """(charz module imported, line number) for every import statement in the file."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "charz" or alias.name.startswith("charz."):
                    found.append((alias.name, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level > 1:
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts)
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if not (target == "charz" or target.startswith("charz.")):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in known else target, node.lineno))
    return found


def _graph() -> tuple[dict[str, Path], dict[str, list[tuple[str, int]]]]:
    modules = _modules()
    known = set(modules)
    return modules, {name: _imports(name, path, known) for name, path in modules.items()}


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_graph_sees_the_package():
    modules, edges = _graph()
    assert "charz.cli" in modules and "charz.netlist.spice" in modules
    assert any(target == "charz.core.lut" for target, _ in edges["charz.cli"])
    # a relative import inside a sub-package resolves to the sibling module
    assert any(target == "charz.netlist.spice" for target, _ in edges["charz.blocks.bitcell.netlist"])


def test_stage_of_each_kind_of_module():
    assert stage("charz.blocks.wht.netlist") == "netlist" and stage("charz.blocks.adc.netlist_flash") == "netlist"
    assert stage("charz.blocks.wht.check") == "recipe" and stage("charz.characterize.common") == "recipe"
    assert stage("charz.blocks.adc.model_area") == "model" and stage("charz.behavior.readout") == "model"
    assert stage("charz.core.lut") == "core" and stage("charz.blocks.base") == "other"
    assert stage("charz.blocks.wht") == "other" and stage("charz.cli") == "other"


def test_stage_rule():
    modules, edges = _graph()
    bad = []
    for name, targets in edges.items():
        forbidden = FORBIDDEN.get(stage(name), ())
        for target, line in targets:
            if stage(target) in forbidden:
                rel = modules[name].relative_to(PACKAGE.parent)
                bad.append(f"{rel}:{line}: {name} ({stage(name)}) imports {target} ({stage(target)})")
    if bad:
        pytest.fail(
            "stage rule broken (docs/ARCHITECTURE.md, One flow, five stages):\n" + "\n".join(sorted(set(bad))),
            pytrace=False,
        )


def _strongly_connected(nodes: list[str], succ: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(succ.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(succ.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def test_tarjan_finds_cycles():
    succ = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e", "f"}, "f": {"e"}}
    found = sorted(c for c in _strongly_connected(sorted(succ), succ) if len(c) > 1)
    assert found == [["a", "b", "c"], ["e", "f"]]


def test_no_import_cycles():
    modules, edges = _graph()
    succ = {name: {t for t, _ in targets if t in modules and t != name} for name, targets in edges.items()}
    cycles = [c for c in _strongly_connected(sorted(modules), succ) if len(c) > 1]
    lines = []
    for component in cycles:
        members = set(component)
        lines.append("cycle: " + ", ".join(component))
        for name in component:
            rel = modules[name].relative_to(PACKAGE.parent)
            for target, line in sorted(set(edges[name]), key=lambda e: e[1]):
                if target in members and target != name:
                    lines.append(f"  {rel}:{line}: {name} imports {target}")
    if cycles:
        pytest.fail("import cycles in charz/:\n" + "\n".join(lines), pytrace=False)


def test_block_names_are_lut_kinds():
    """The netlist generators name their decks with the LUT kinds of charz.core.lut (one registry: a recipe's
    LUT block and a model's check must agree with the generator it came from)."""
    from charz.core.lut import ADC_KINDS, KINDS, TD_KINDS, Kind
    from charz.blocks.cim_column import netlist as cim_column
    from charz.blocks.comparator import netlist as comparator
    from charz.blocks.adc import netlist as digitizer, netlist_flash as flash
    from charz.blocks.td_mac import netlist as td_mac
    from charz.blocks.wht import netlist as wht_column

    assert len(set(KINDS)) == len(KINDS) and set(ADC_KINDS) <= set(KINDS) and set(TD_KINDS) <= set(KINDS)
    assert {v for k, v in vars(Kind).items() if k.isupper()} == set(KINDS)
    assert cim_column.BLOCK == Kind.CIM_COLUMN and wht_column.BLOCK == Kind.WHT_COLUMN
    assert comparator.BLOCK == Kind.COMPARATOR and flash.BLOCK == Kind.ADC_FLASH and td_mac.BLOCK == Kind.TD_DELAY
    assert set(digitizer.BLOCKS.values()) | {digitizer.HYBRID_BLOCK} == {Kind.ADC_SAR, Kind.ADC_MI_SAR, Kind.ADC_HYBRID}
    assert {f"bitcell{c}" for c in ("6t", "8t")} == {Kind.BITCELL6T, Kind.BITCELL8T}

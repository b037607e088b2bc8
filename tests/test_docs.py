"""Documentation rules that can be checked mechanically.

Every public class and function of the package has a docstring: module-level functions and classes whose
name does not start with ``_``, and the public methods (properties and dataclass methods included; dunder
methods excepted) of those classes. Measured figures belong in the READMEs, not in docstrings; that rule
is reviewed by hand, not tested here.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "charz"


def _public(name: str) -> bool:
    return not name.startswith("_")


def _undocumented(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """``FILE:LINE NAME`` of every public class / function / method in *path* without a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = path.relative_to(root)
    out = []
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    for node in tree.body:
        if not isinstance(node, defs) or not _public(node.name):
            continue
        if not ast.get_docstring(node):
            out.append(f"{rel}:{node.lineno} {node.name}")
        if isinstance(node, ast.ClassDef):
            for m in node.body:
                if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and _public(m.name) \
                        and not ast.get_docstring(m):
                    out.append(f"{rel}:{m.lineno} {node.name}.{m.name}")
    return out


def test_package_found():
    assert (PACKAGE / "__init__.py").is_file()
    assert len(list(PACKAGE.rglob("*.py"))) > 20


def test_every_public_class_and_function_has_a_docstring():
    missing = [m for f in sorted(PACKAGE.rglob("*.py")) for m in _undocumented(f)]
    assert not missing, (f"{len(missing)} public class(es) / function(s) without a docstring "
                         f"(say what it does / returns, with units):\n  " + "\n  ".join(missing))


def test_the_scan_sees_a_missing_docstring(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('class A:\n    """A."""\n\n    @property\n    def x(self):\n        return 1\n\n'
                     '    def _y(self):\n        pass\n\n    def __len__(self):\n        return 0\n\n\n'
                     'class _B:\n    def z(self):\n        pass\n\n\n'
                     'def f():\n    pass\n\n\ndef _g():\n    pass\n')
    assert [s.split(" ", 1)[1] for s in _undocumented(probe, tmp_path)] == ["A.x", "f"]

"""vulture_whitelist.py names attributes of real classes (pydantic fields, framework hooks): each must exist, so
that the whitelist cannot keep a name alive after its field or method is gone."""

import ast
import importlib

from tests.harness import ROOT

WHITELIST = ROOT / "vulture_whitelist.py"


def _entries() -> tuple[dict[str, type], list[tuple[str, str]]]:
    tree = ast.parse(WHITELIST.read_text(encoding="utf-8"))
    classes = {
        alias.asname or alias.name: getattr(importlib.import_module(node.module), alias.name)
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    attributes = [
        (node.value.value.id, node.value.attr)
        for node in tree.body
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Attribute)
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id in classes
    ]
    return classes, attributes


def test_whitelisted_attributes_exist():
    classes, attributes = _entries()
    assert attributes, "the whitelist names no attribute of an imported class"
    missing = [
        f"{name}.{attr}"
        for name, attr in attributes
        if attr not in getattr(classes[name], "model_fields", {}) and not hasattr(classes[name], attr)
    ]
    assert not missing, f"vulture_whitelist.py names what no longer exists: {missing}"

"""Every module that tdlib/, the book's pages, the tests and benchmarks import is declared in
requirements.txt (a fresh virtual environment installs only what is declared there)."""
from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Imported only where a package provides it or on request, never needed to run tdlib or the book:
OPTIONAL = {
    "google": "google.colab, only inside Colab",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set:
    names = set()
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(_norm(re.split(r"[<>=!~\[; ]", line)[0]))
    return names


def _code_cells(md_text: str) -> str:
    cells = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", md_text, flags=re.S)
    lines = []
    for cell in cells:
        cell = re.sub(r"\A---\n.*?\n---\n", "", cell, flags=re.S)     # YAML cell metadata (e.g. mystnb.figure)
        for line in cell.splitlines():
            if line.startswith(":") or line.lstrip().startswith(("%", "!")):   # cell options, magics
                continue
            lines.append(line)
        lines.append("")
    return "\n".join(lines)


def top_level_imports(source: str) -> set:
    mods = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            mods.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__"
              and node.args and isinstance(node.args[0], ast.Constant)):
            mods.add(str(node.args[0].value).split(".")[0])
    return mods


def imported_modules() -> dict:
    """``{module: [files importing it]}`` over tdlib/, book/, tests/ and benchmarks/."""
    found: dict = {}
    files = [p for d in ("tdlib", "tests", "benchmarks") for p in sorted((ROOT / d).rglob("*.py"))]
    for p in files + sorted((ROOT / "book").glob("*.md")):
        src = _code_cells(p.read_text()) if p.suffix == ".md" else p.read_text()
        for m in top_level_imports(src):
            found.setdefault(m, []).append(str(p.relative_to(ROOT)))
    return found


def test_code_cells_are_parsed():
    src = _code_cells("x\n```{code-cell} ipython3\n:tags: [a]\n%pip install q\nimport scipy.stats as s\n```\n")
    assert top_level_imports(src) == {"scipy"}


def test_every_import_is_declared_in_requirements():
    dists = md.packages_distributions()
    local = {"tdlib", "conftest", "benchmarks"} | {p.stem for p in (ROOT / "tests").glob("*.py")}
    want = declared()
    missing = []
    for mod, files in sorted(imported_modules().items()):
        if mod in sys.stdlib_module_names or mod in local or mod in OPTIONAL:
            continue
        owners = {_norm(d) for d in dists.get(mod, [])}
        if not owners:
            missing.append(f"{mod} (not installed here; imported by {files[0]})")
        elif not owners & want:
            missing.append(f"{mod} (from {'/'.join(sorted(owners))}; imported by {files[0]})")
    assert not missing, "imported but not in requirements.txt: " + "; ".join(missing)


def test_requirements_are_pinned_in_constraints():
    pins = {_norm(re.split(r"==", l)[0]) for l in (ROOT / "constraints.txt").read_text().splitlines()
            if "==" in l and not l.startswith("#")}
    assert declared() - pins == set(), f"requirements without an exact pin in constraints.txt: {declared() - pins}"

"""Run the book's jupytext notebooks with papermill (parameterized jobs, CI's smoke run).

A page is a MyST-markdown notebook in ``book/`` with a cell tagged ``parameters``; papermill
injects new values after it. Executed copies go to a separate folder, so sources stay clean.
"""
from __future__ import annotations

import time
from pathlib import Path

from .results import REPO_ROOT


def book_pages(root: Path = REPO_ROOT / "book") -> list[Path]:
    """The pages that hold code cells (notebooks), in name order."""
    return sorted(p for p in root.glob("*.md") if "```{code-cell}" in p.read_text())


def run_notebook(page: Path, out_dir: Path, parameters: dict, kernel: str = "python3") -> Path:
    import jupytext
    import papermill as pm
    out_dir.mkdir(parents=True, exist_ok=True)
    src = out_dir / f"{page.stem}.source.ipynb"
    jupytext.write(jupytext.read(page), src)
    dst = out_dir / f"{page.stem}.ipynb"
    pm.execute_notebook(str(src), str(dst), parameters=parameters, kernel_name=kernel,
                        cwd=str(page.parent), progress_bar=False)
    src.unlink()
    return dst


def run_notebooks(pages=None, out="_build/papermill", parameters=None) -> list[str]:
    """Execute pages (paths or stems; default all); print a line each; return the failed ones."""
    all_pages = {p.stem: p for p in book_pages()}
    if pages:
        unknown = [p for p in pages if Path(p).stem not in all_pages]
        if unknown:
            raise ValueError(f"no notebook page(s) {unknown} in book/; pages: {sorted(all_pages)}")
        todo = [all_pages[Path(p).stem] for p in pages]
    else:
        todo = list(all_pages.values())
    failed = []
    for page in todo:
        t0 = time.perf_counter()
        try:
            dst = run_notebook(page, Path(out), parameters or {})
            print(f"ok     {page.name:28s} {time.perf_counter() - t0:6.1f} s -> {dst}", flush=True)
        except Exception as e:          # report every page, then fail
            failed.append(page.name)
            print(f"FAILED {page.name:28s} {time.perf_counter() - t0:6.1f} s: {type(e).__name__}: "
                  f"{str(e).splitlines()[-1] if str(e) else ''}", flush=True)
    return failed


def check_built_book(html_dir="_build/html") -> None:
    """Fail if a built notebook page shows no figure or shows a traceback (figures can silently
    vanish, e.g. under a non-inline matplotlib backend)."""
    problems = []
    for page in book_pages():
        html = Path(html_dir) / "book" / f"{page.stem}.html"
        if not html.is_file():
            problems.append(f"{html} missing")
            continue
        text = html.read_text()
        if "<img" not in text and "plotly" not in text:
            problems.append(f"{html.name}: no figure")
        if "Traceback (most recent call last)" in text:
            problems.append(f"{html.name}: shows a traceback")
    if problems:
        raise SystemExit("book check failed: " + "; ".join(problems))
    print(f"book check: {len(book_pages())} pages have figures and no tracebacks")

"""Run the book's jupytext notebooks with papermill (parameterized jobs, CI's smoke run).

A page is a MyST-markdown notebook in ``book/`` (the source) paired with a same-name ``.ipynb``
beside it (for Colab / JupyterHub; kept equal by ``make ipynb``, checked by the tests). Its cell
tagged ``parameters`` declares :data:`PAGE_PARAMETERS`; papermill injects new values after it and
the next cell, :func:`page_parameters`, refuses unknown names and values. Executed copies go to a
separate folder, so sources stay clean.
"""
from __future__ import annotations

import ast
import os
import re
import time
from pathlib import Path

from ..errors import ConfigError
from .results import REPO_ROOT

# name -> (default, what it is): the parameters every page declares (and nothing else)
PAGE_PARAMETERS = {
    "profile": ("auto", "'auto' (the best stored result, else computed at smoke) or a profile name"),
    "data_path": (None, "None, or a path to cifar10.npz / a folder with torchvision's cifar-10-batches-py"),
    "download": (False, "True: fetch CIFAR-10 with torchvision (online) into the cache, then use it"),
    "allow_cpu": (False, "True: run a GPU profile (gpu, paper) on a machine without a CUDA GPU anyway (slow)"),
    "write_results": (False, "True: a page run at a named profile writes into the repository's results/ "
                             "(default: into a copy under _build/page-results/, so the committed files stay as they are)"),
}
PAGE_RESULTS = REPO_ROOT / "_build" / "page-results"     # where a page run at a named profile computes


def valid_profiles() -> list:
    from ..config import PROFILES
    return ["auto", *PROFILES]


def check_parameter_values(params: dict) -> None:
    """ConfigError for a name not in :data:`PAGE_PARAMETERS` or a value it cannot take."""
    unknown = sorted(set(params) - set(PAGE_PARAMETERS))
    if unknown:
        valid = "; ".join(f"{k} (default {d!r}): {h}" for k, (d, h) in PAGE_PARAMETERS.items())
        raise ConfigError(f"unknown notebook parameter(s) {unknown}. The pages take: {valid}")
    if "profile" in params and params["profile"] not in valid_profiles():
        raise ConfigError(f"profile={params['profile']!r} is not a profile; choose one of {valid_profiles()}")
    dp = params.get("data_path")
    if dp is not None and not isinstance(dp, (str, os.PathLike)):
        raise ConfigError(f"data_path={dp!r} must be None or a path (a string)")
    for flag in ("download", "allow_cpu", "write_results"):
        if flag in params and not isinstance(params[flag], bool):
            raise ConfigError(f"{flag}={params[flag]!r} must be True or False")


def _injected_names(history) -> list:
    """Names assigned by papermill's injected cell, when it is the cell run just before this one
    (IPython's ``In``: the current cell is last, papermill's cell starts with '# Parameters')."""
    if not history or len(history) < 2 or not str(history[-2]).lstrip().startswith("# Parameters"):
        return []
    tree = ast.parse(history[-2])
    return [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
            if isinstance(t, ast.Name)]


def page_parameters(ns: dict, page: "str | None" = None):
    """A page's parameter check, run right after its parameters cell with ``globals()``: unknown
    names injected by papermill and bad values are ConfigErrors that list the valid ones.
    ``download=True`` fetches CIFAR-10 (torchvision) and returns its folder as ``data_path``.
    At a named profile (not ``auto``) the run says what ``page`` will compute and roughly for how long
    (:func:`page_plan`), and, unless ``write_results=True`` or ``$TDLIB_RESULTS`` is set, computes into a
    copy of the stored results (:func:`use_page_results`), so the committed ``results/`` and
    ``git status`` stay clean. ``auto`` is resolved once for the page (issue 19): the returned profile is
    ``"auto:P"``, P the best profile with any stored result of the page's experiments
    (:func:`tdlib.lab.results.page_profile`), so every figure and the claims table show P. Returns
    ``(profile, data_path)``."""
    names = _injected_names(ns.get("In"))
    params = {k: ns[k] for k in names}
    params.update({k: ns.get(k, d) for k, (d, _) in PAGE_PARAMETERS.items()})
    check_parameter_values(params)
    if params["profile"] != "auto":                      # as the command line: a GPU profile needs a GPU
        from .cli import check_gpu
        from ..config import get_profile
        check_gpu(get_profile(params["profile"]), allow_cpu=bool(params["allow_cpu"]))
        if not params["write_results"]:
            use_page_results(params["profile"])
        if page:
            print(page_plan(page, params["profile"]))
    profile = params["profile"]
    if profile == "auto" and page:                       # resolved once: the page's figures and claims agree
        from .experiments import page_experiments
        from .results import page_profile
        profile = f"auto:{page_profile(page_experiments(page))}"
    data_path = params["data_path"]
    if params["download"] and data_path is None:
        from ..data import download_cifar10
        data_path = str(download_cifar10())
    return profile, data_path


def use_page_results(profile: str, src: Path = REPO_ROOT / "results", dst: Path = PAGE_RESULTS) -> "Path | None":
    """Point ``$TDLIB_RESULTS`` at ``dst`` holding a copy of ``src/<profile>`` (files not yet there are
    copied; what earlier page runs computed there is kept), unless ``$TDLIB_RESULTS`` is already set or
    the profile is ``smoke`` (whose results are not committed). Returns ``dst`` when it did."""
    import shutil
    if os.environ.get("TDLIB_RESULTS") or profile == "smoke":
        return None
    if (src / profile).is_dir():
        for f in (src / profile).rglob("*"):
            out = dst / profile / f.relative_to(src / profile)
            if f.is_file() and not out.exists() and ".stale" not in f.parts:
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, out)
    (dst / profile).mkdir(parents=True, exist_ok=True)
    os.environ["TDLIB_RESULTS"] = str(dst)
    return dst


def page_plan(page: str, profile: str) -> str:
    """What a run of ``page`` at ``profile`` will compute: the queue's status rows of the page's
    experiments and the long runs they read (stored / expected entries, rough minutes), and where the
    results go."""
    from ..config import get_profile
    from .experiments import records
    from .queue import format_status, job_status, plan
    from .results import results_root
    prof = get_profile(profile)
    exps = [n for n, r in records().items() if r.page == page and not r.skip_reason(prof)]
    rows = [job_status(j) for j in plan(prof, only=exps, tail=False)]
    pending = [r for r in rows if r["pending"]]
    head = (f"Page {page} at profile {profile!r}: results are read from and written to {results_root() / profile}"
            + (" (a copy of the committed results; write_results=True writes into results/)"
               if Path(os.environ.get("TDLIB_RESULTS", "")).resolve() == PAGE_RESULTS.resolve() else ""))
    if not pending:
        return head + "\nEverything this page shows is stored: nothing to compute."
    return (head + f"\n{len(pending)} of its {len(rows)} jobs are pending and run now, with progress bars "
            "(minutes are rough until a job has measured itself):\n" + format_status(pending))


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
    check_parameter_values(parameters or {})
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


_GLUE = re.compile(r"\{glue:(?:text|md)\}`([^`:]+)(?::[^`]*)?`")
_INCLUDE = re.compile(r"```\{literalinclude\} ([^\n]+)\n((?::[a-z]+: [^\n]*\n)*)```")


def _pyobject_source(page: Path, rel: str, options: str) -> str:
    """The source a ``{literalinclude}`` shows: the whole file, or its ``:pyobject:`` (a function or class)."""
    import ast
    path = (page.parent / rel.strip()).resolve()
    text = path.read_text()
    name = dict(re.findall(r":([a-z]+): ([^\n]*)", options)).get("pyobject")
    if not name:
        return text
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name.strip():
            return ast.get_source_segment(text, node)
    raise ValueError(f"{page.name}: literalinclude of {rel} names :pyobject: {name}, which it does not define")


def colab_view(nb, page: Path):
    """The paired notebook as it reads outside the book (Colab, JupyterHub; issue 20): a literalinclude
    becomes the code it shows (a fenced block), a glued number in the prose reads ``[name]`` and the
    cell after that paragraph prints every glued value it names (:func:`tdlib.lab.viz.common.glued`).
    The book itself renders the ``.md`` source."""
    import copy
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            cells.append(cell)
            continue
        src = _INCLUDE.sub(lambda m: "```python\n" + _pyobject_source(page, m.group(1), m.group(2)).rstrip()
                           + "\n```", cell.source)
        names = list(dict.fromkeys(_GLUE.findall(src)))
        cell.source = _GLUE.sub(lambda m: f"[{m.group(1)}]", src)
        cells.append(cell)
        if names:
            code = copy.deepcopy(next(c for c in nb.cells if c.cell_type == "code"))   # a code cell of this format
            code.source = "from tdlib.lab.viz.common import glued\nglued(" + ", ".join(repr(n) for n in names) + ")"
            code.metadata = {"tags": ["glued-values"]}
            code["outputs"], code["execution_count"] = [], None
            cells.append(code)
    nb.cells = cells
    return nb


def ipynb_drift(pages=None) -> list:
    """Pages whose paired ``.ipynb`` is missing or differs from the ``.md`` source (cell types,
    sources, tags); ``make ipynb`` rewrites them."""
    import jupytext

    def cells(nb):
        return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", []))) for c in nb.cells]
    drift = []
    for page in pages or book_pages():
        paired = page.with_suffix(".ipynb")
        if not paired.is_file():
            drift.append(f"{paired.name} missing")
        elif cells(colab_view(jupytext.read(page), page)) != cells(jupytext.read(paired)):
            drift.append(f"{paired.name} differs from {page.name}")
    return drift


def write_ipynb(pages=None) -> list:
    """Write each page's paired ``.ipynb`` (no outputs) from its ``.md`` source, as :func:`colab_view`."""
    import jupytext
    out = []
    for page in pages or book_pages():
        nb = colab_view(jupytext.read(page), page)
        for i, cell in enumerate(nb.cells):      # stable ids: rewriting changes nothing else
            cell["id"] = f"cell-{i}"
        jupytext.write(nb, page.with_suffix(".ipynb"), fmt="ipynb")
        out.append(page.with_suffix(".ipynb"))
    return out


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

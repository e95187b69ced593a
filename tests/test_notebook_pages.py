"""The book's pages as notebooks people open elsewhere: the paired .ipynb files are in sync with
the .md sources, the install cell installs tdlib from the repository the launch buttons name, and
papermill parameters are checked (unknown names and values are errors that list the valid ones)."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tdlib.errors import ConfigError
from tdlib.lab.notebooks import PAGE_PARAMETERS, book_pages, check_parameter_values, ipynb_drift, page_parameters

ROOT = Path(__file__).resolve().parents[1]


def _config():
    import yaml
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def _cells(page):
    import jupytext
    return jupytext.read(page).cells


# ---------------------------------------------------------------------------- paired notebooks
def test_every_page_has_its_ipynb_in_sync():
    assert book_pages(), "no notebook pages found"
    assert ipynb_drift() == [], "run `make ipynb` to rewrite book/*.ipynb from the .md sources"


def test_drift_is_detected(tmp_path):
    import jupytext
    page = book_pages()[0]
    (tmp_path / "tdlib").symlink_to(page.parents[1] / "tdlib")      # its literalinclude paths (../tdlib/...)
    book = tmp_path / "book"
    book.mkdir()
    (book / page.name).write_text(page.read_text())
    assert ipynb_drift([book / page.name]) == [f"{page.stem}.ipynb missing"]
    nb = jupytext.read(page)
    nb.cells[-1].source += "\nprint('edited')"
    jupytext.write(nb, book / f"{page.stem}.ipynb", fmt="ipynb")
    assert ipynb_drift([book / page.name]) == [f"{page.stem}.ipynb differs from {page.name}"]


def test_book_excludes_the_ipynb_twins_and_has_launch_buttons():
    cfg = _config()
    assert "book/*.ipynb" in cfg["exclude_patterns"]          # else: "multiple files found" (fatal, -W)
    assert re.match(r"https://github\.com/[^/]+/[^/]+$", cfg["repository"]["url"])
    assert cfg["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


# ---------------------------------------------------------------------------- the install cell
def _install_cell(page) -> str:
    cells = [c for c in _cells(page) if c.cell_type == "code"]
    return cells[0].source


def test_install_cell_precedes_parameters_and_clones_the_configured_repository():
    url = _config()["repository"]["url"]
    for page in book_pages():
        code = [c for c in _cells(page) if c.cell_type == "code"]
        assert "parameters" in code[1].metadata.get("tags", []), page.name
        assert "page_parameters(globals()" in code[2].source, page.name
        src = code[0].source
        assert f"git clone -q --depth 1 {url}.git" in src, f"{page.name}: install cell must clone {url}"
        assert src == _install_cell(book_pages()[0]), f"{page.name}: install cells differ between pages"


def _run_install_cell(cwd: Path, hide_tdlib: bool) -> list:
    """Run the install cell (IPython's '!' lines turned into calls) in a fresh python where tdlib
    is hidden; return the shell commands it asked for, in order."""
    from IPython.core.inputtransformer2 import TransformerManager
    code = TransformerManager().transform_cell(_install_cell(book_pages()[0]))
    runner = textwrap.dedent(f"""
        import importlib.util, json
        find_spec = importlib.util.find_spec
        if {hide_tdlib!r}:        # as in a fresh Colab runtime: tdlib is not importable
            importlib.util.find_spec = lambda name, *a: None if name == "tdlib" else find_spec(name, *a)
        calls, ns = [], {{}}
        class Shell:              # IPython's '!': expands {{...}} in the cell's namespace, runs nothing
            def system(self, cmd): calls.append(cmd.format(**ns))
        ns["get_ipython"] = lambda: Shell()
        exec(compile({code!r}, "install-cell", "exec"), ns)
        print(json.dumps(calls))
    """)
    out = subprocess.run([sys.executable, "-c", runner], cwd=cwd, capture_output=True, text=True, check=True)
    import json
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_install_cell_clones_and_installs_when_tdlib_is_missing(tmp_path):
    calls = _run_install_cell(tmp_path, hide_tdlib=True)                    # Colab: nothing here
    url = _config()["repository"]["url"]
    assert calls[0] == f"git clone -q --depth 1 {url}.git"
    assert calls[1].endswith(f"-m pip install -q -e {tmp_path.resolve() / 'taskbook'}")
    (tmp_path / "tdlib").mkdir()                                             # JupyterHub: a clone, at book/
    (tmp_path / "book").mkdir()
    calls = _run_install_cell(tmp_path / "book", hide_tdlib=True)
    assert len(calls) == 1 and calls[0].endswith(f"-m pip install -q -e {tmp_path.resolve()}")
    assert _run_install_cell(tmp_path, hide_tdlib=False) == []               # installed: does nothing


# ---------------------------------------------------------------------------- parameters
def test_every_page_declares_exactly_the_page_parameters():
    import papermill as pm
    import jupytext
    for page in book_pages():
        nb = jupytext.read(page)
        tmp = ROOT / "_build" / "param-check"
        tmp.mkdir(parents=True, exist_ok=True)
        jupytext.write(nb, tmp / f"{page.stem}.ipynb", fmt="ipynb")
        declared = pm.inspect_notebook(str(tmp / f"{page.stem}.ipynb"))
        assert {k: ast.literal_eval(v["default"]) for k, v in declared.items()} == {
            k: d for k, (d, _) in PAGE_PARAMETERS.items()}, page.name


@pytest.mark.parametrize("params, message", [
    ({"profle": "cpu"}, "unknown notebook parameter(s) ['profle']"),
    ({"profile": "gpuu"}, "choose one of ['auto', "),
    ({"download": "yes"}, "must be True or False"),
    ({"data_path": 3}, "must be None or a path"),
])
def test_bad_parameters_are_errors_that_list_the_valid_ones(params, message):
    with pytest.raises(ConfigError) as e:
        check_parameter_values(params)
    assert message in str(e.value)
    if "profle" in params:
        assert all(k in str(e.value) for k in PAGE_PARAMETERS) and "'auto'" in str(e.value)


def test_page_parameters_reads_papermills_injected_cell():
    declared = "profile = 'auto'\ndata_path = None\ndownload = False\n"
    ns = {"profile": "cpu", "data_path": None, "download": False, "profle": "cpu",
          "In": ["", declared, "# Parameters\nprofle = \"cpu\"\n", "page_parameters(globals())"]}
    with pytest.raises(ConfigError, match="profle"):
        page_parameters(ns)
    ns["In"][2] = "# Parameters\nprofile = \"cpu\"\n"
    assert page_parameters(ns) == ("cpu", None)
    # a live kernel: the cell before is any user cell; only the declared values are checked
    assert page_parameters({"profile": "auto", "e1": object(), "In": ["", "e1 = 1", "x"]}) == ("auto", None)
    with pytest.raises(ConfigError, match="choose one of"):
        page_parameters({"profile": "fast"})


def test_cli_refuses_unknown_parameters_before_running(capsys):
    from tdlib.lab.notebooks import run_notebooks
    with pytest.raises(ConfigError, match="profle"):
        run_notebooks(["sec3_agreement"], parameters={"profle": "cpu"})


@pytest.mark.slow
def test_papermill_run_with_a_misspelt_parameter_fails(tmp_path):
    """The page itself (not only our CLI) fails on a name papermill injects that it does not take."""
    import jupytext
    import papermill as pm
    page = ROOT / "book" / "sec3_agreement.md"
    nb = jupytext.read(page)
    code = [c for c in nb.cells if c.cell_type == "code"]
    nb.cells = code[:3]                       # install, parameters, check: no experiment runs
    src = tmp_path / "p.ipynb"
    jupytext.write(nb, src, fmt="ipynb")
    with pytest.raises(pm.PapermillExecutionError, match="profle"):
        pm.execute_notebook(str(src), str(tmp_path / "o.ipynb"), parameters={"profle": "cpu"},
                            kernel_name="python3", progress_bar=False, cwd=str(page.parent))
    pm.execute_notebook(str(src), str(tmp_path / "o.ipynb"), parameters={"profile": "smoke"},
                        kernel_name="python3", progress_bar=False, cwd=str(page.parent))


def test_download_true_fetches_cifar10_with_torchvision_into_the_cache(tmp_path, monkeypatch):
    import torchvision
    calls = []

    class FakeCIFAR10:                      # no network in tests: record what would be fetched
        def __init__(self, root, train, download):
            calls.append((root, train, download))
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    monkeypatch.setenv("TDLIB_CACHE", str(tmp_path / "cache"))
    profile, data_path = page_parameters({"profile": "cpu", "data_path": None, "download": True})
    assert (profile, data_path) == ("cpu", str(tmp_path / "cache"))
    assert calls == [(str(tmp_path / "cache"), True, True)]
    # an explicit data_path wins: nothing is fetched
    assert page_parameters({"profile": "cpu", "data_path": "/x.npz", "download": True}) == ("cpu", "/x.npz")
    assert len(calls) == 1


def test_no_root_static_folder_that_would_load_all_of_mathjax():
    """jupyter-book 1.x: with a `_static` folder beside _config.yml it adds every .js and .css file
    under every html_static_path (MathJax's hundreds of files) to each page: errors and 8 MB pages."""
    assert not (ROOT / "_static").exists(), "move it (e.g. to _css/) and list it in html_static_path"
    static = _config()["sphinx"]["config"]["html_static_path"]
    assert all((ROOT / p).is_dir() or p.startswith("node_modules") for p in static), static


def test_a_gpu_profile_page_without_cuda_is_refused_naming_the_fix(monkeypatch):
    """Issue 17: papermill `-p profile gpu` (or paper) on a machine without CUDA is refused as the CLI
    refuses it; `-p allow_cpu True` overrides."""
    import torch
    from tdlib.errors import ConfigError
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for prof in ("gpu", "paper"):
        with pytest.raises(ConfigError, match="allow-cpu"):
            page_parameters({"profile": prof, "data_path": None, "download": False, "allow_cpu": False})
        assert page_parameters({"profile": prof, "data_path": None, "download": False, "allow_cpu": True})[0] == prof
    assert page_parameters({"profile": "cpu", "data_path": None, "download": False, "allow_cpu": False})[0] == "cpu"


def test_paired_notebooks_read_outside_the_book():
    """Issue 20: in Colab / JupyterHub the paired .ipynb shows the listed code and the glued numbers
    (a cell prints them), not raw MyST roles."""
    import json
    for page in book_pages():
        nb = json.loads(page.with_suffix(".ipynb").read_text())
        text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        assert "{glue:" not in text and "{literalinclude}" not in text, page.name
        if "{glue:" in page.read_text():
            assert any("glued(" in "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"), page.name
    sec4 = json.loads((book_pages()[0].parent / "sec4_discovery.ipynb").read_text())
    assert any("def proxy_agreement(" in "".join(c["source"]) for c in sec4["cells"])


def test_glued_shows_what_the_prose_would():
    from tdlib.lab.viz.common import glue, glued
    glue({"x_value": 0.12345, "x-name": "text"})
    out = getattr(glued("x_value", "x-name", "missing"), "data", "")
    assert "0.123" in out and "text" in out and "not computed" in out


def test_a_page_at_a_named_profile_computes_into_a_copy_and_says_what_it_will_compute(tmp_path, monkeypatch):
    """Issue 20: the Sec. 3 page at profile=cpu silently started 2 h of ViT runs and rewrote the committed
    results/cpu/e1.json. Now the run prints its plan and writes into a copy unless write_results=True."""
    from tdlib.lab.notebooks import page_plan, use_page_results
    src, dst = tmp_path / "results", tmp_path / "copy"
    (src / "cpu" / "discovery").mkdir(parents=True)
    (src / "cpu" / "e1.json").write_text('{"entries": {}, "stored": 1}')
    (src / "cpu" / "discovery" / "tasks.npz").write_bytes(b"x")
    monkeypatch.delenv("TDLIB_RESULTS", raising=False)
    assert use_page_results("smoke", src, dst) is None                      # smoke: nothing committed
    (dst / "cpu").mkdir(parents=True)
    (dst / "cpu" / "e1.json").write_text('{"entries": {}, "computed": 2}')  # an earlier page run's work
    assert use_page_results("cpu", src, dst) == dst
    assert os.environ["TDLIB_RESULTS"] == str(dst)
    assert "computed" in (dst / "cpu" / "e1.json").read_text()              # kept, not overwritten
    assert (dst / "cpu" / "discovery" / "tasks.npz").read_bytes() == b"x"   # the long runs travel too
    assert use_page_results("cpu", src, tmp_path / "other") is None         # $TDLIB_RESULTS set: left alone
    text = page_plan("sec3_agreement", "cpu")                                # nothing stored in the copy
    assert "pending" in text and "cpu:e1" in text and "gpucheck" not in text, text

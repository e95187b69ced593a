"""Sphinx extension of the book (``_config.yml``: ``sphinx.extra_extensions``): pages that log no
console errors in a browser, offline or not (issue: "THEBE_JS_URL has already been declared",
"Got invalid theme mode").

- jupyter-book 1.x runs sphinx-thebe's setup twice, so every page declares ``const THEBE_JS_URL``
  twice: a SyntaxError that stops that script. Identical script entries are dropped here.
- pydata-sphinx-theme 0.17 under sphinx-book-theme 1.3 starts with an empty colour mode and logs
  an error before resetting it: the book starts in ``light`` mode (the reader can switch).
"""
from __future__ import annotations


def _unique_scripts(app, pagename, templatename, context, doctree):
    scripts, seen = [], set()
    for s in context.get("script_files") or []:
        key = (str(getattr(s, "filename", s) or ""), str(getattr(s, "attributes", {}).get("body", "")))
        if key not in seen:               # same file or same inline body: keep the first
            seen.add(key)
            scripts.append(s)
    if "script_files" in context:
        context["script_files"] = scripts


def _default_mode(app, config):
    config.html_context = {"default_mode": "light", **(config.html_context or {})}


def setup(app):
    app.connect("config-inited", _default_mode)
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

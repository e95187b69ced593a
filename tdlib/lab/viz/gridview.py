"""Controls over a precomputed grid of results that work in the static book, without a kernel.

A sweep such as E18 (App. E, Fig. 13: uniformity weight λ x embedding size d) is stored. For every
combination of the parameter values a figure and a few numbers are rendered once, when the page is
executed, into one self-contained HTML block: a range slider per parameter and a small inline
script that swaps the image and the table of numbers. Nothing is loaded from outside the page
(images are ``data:`` URLs), so it works offline and in any notebook front end that shows HTML.

With a live kernel the same object also carries an ipywidgets view (same sliders, plus a button
that computes a point that is not stored); front ends with a widget manager show that one.
"""
from __future__ import annotations

import base64
import html
import io
import itertools
import json
import uuid

_SCRIPT = """
(function () {
  var root = document.getElementById(%(id)s);
  if (!root) { return; }
  var data = JSON.parse(root.querySelector("script.gv-data").textContent);
  var sliders = root.querySelectorAll("input.gv-slider");
  var img = root.querySelector("img.gv-figure");
  var body = root.querySelector("table.gv-numbers tbody");
  function esc(s) { var d = document.createElement("span"); d.textContent = String(s); return d.innerHTML; }
  function update() {
    var idx = [];
    sliders.forEach(function (s, i) {
      idx.push(s.value);
      root.querySelector("output[data-axis='" + i + "']").textContent = data.labels[i][+s.value];
    });
    var cell = data.cells[idx.join(",")];
    img.src = data.images[cell.image];
    img.alt = cell.alt;
    root.setAttribute("data-shown", idx.join(","));
    body.innerHTML = cell.numbers.map(function (r) {
      return "<tr><th>" + esc(r[0]) + "</th><td>" + esc(r[1]) + "</td></tr>";
    }).join("");
  }
  sliders.forEach(function (s) { s.addEventListener("input", update); });
  update();
})();
"""

_STYLE = """
.tdlib-gridview .gv-controls { display: flex; flex-wrap: wrap; gap: 0.4em 2em; margin: 0.3em 0 0.6em 0; }
.tdlib-gridview label { display: inline-flex; align-items: center; gap: 0.5em; font-weight: 600; }
.tdlib-gridview output { min-width: 3em; font-variant-numeric: tabular-nums; font-weight: 400; }
.tdlib-gridview img.gv-figure { max-width: 100%; height: auto; display: block; }
.tdlib-gridview table.gv-numbers { margin-top: 0.5em; border-collapse: collapse; }
.tdlib-gridview table.gv-numbers th { text-align: left; padding: 0.15em 1.2em 0.15em 0; font-weight: 400; }
.tdlib-gridview table.gv-numbers td { font-variant-numeric: tabular-nums; }
"""


def fig_to_data_url(fig, dpi: int = 90) -> str:
    """A matplotlib figure as a ``data:image/png;base64,...`` URL (the figure is closed)."""
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _label(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


class GridView:
    """Sliders over ``axes`` (``{name: [values, ...]}``); ``render(point)`` makes the figure and
    ``numbers(point)`` the rows ``[(name, value), ...]`` for one point (a dict ``{axis: value}``).
    ``key(point)`` (optional) maps points to a shared image: points with equal keys are drawn once.
    ``live``: an optional ipywidgets widget shown instead by front ends with a widget manager."""

    def __init__(self, axes: dict, render, numbers, key=None, title: str = "", live=None, dpi: int = 90):
        if not axes or any(len(v) == 0 for v in axes.values()):
            raise ValueError(f"GridView needs at least one value per axis, got {axes!r}")
        self.axes = {k: list(v) for k, v in axes.items()}
        self.render, self.numbers, self.key = render, numbers, key
        self.title, self.live, self.dpi = title, live, dpi
        self._html = None

    def points(self):
        """Every combination, as ``(index tuple, {axis: value})``."""
        names = list(self.axes)
        for idx in itertools.product(*(range(len(v)) for v in self.axes.values())):
            yield idx, {n: self.axes[n][i] for n, i in zip(names, idx)}

    def data(self) -> dict:
        """What the page's script reads: slider labels, images (deduplicated) and each cell."""
        images, by_key, cells = [], {}, {}
        for idx, point in self.points():
            k = self.key(point) if self.key else idx
            if k not in by_key:
                by_key[k] = len(images)
                images.append(fig_to_data_url(self.render(point), self.dpi))
            alt = ", ".join(f"{n} = {_label(v)}" for n, v in point.items())
            cells[",".join(map(str, idx))] = {
                "image": by_key[k], "alt": f"{self.title}: {alt}" if self.title else alt,
                "numbers": [[str(a), str(b)] for a, b in self.numbers(point)]}
        return {"labels": [[_label(v) for v in vals] for vals in self.axes.values()],
                "images": images, "cells": cells}

    def html(self) -> str:
        if self._html is None:
            gid = "gv-" + uuid.uuid4().hex[:10]
            payload = json.dumps(self.data()).replace("</", "<\\/")
            sliders = "".join(
                f'<label>{html.escape(name)} <input type="range" class="gv-slider" min="0" '
                f'max="{len(vals) - 1}" step="1" value="0" aria-label="{html.escape(name)}" '
                f'data-axis="{i}"{" disabled" if len(vals) == 1 else ""}>'
                f'<output data-axis="{i}">{html.escape(_label(vals[0]))}</output></label>'
                for i, (name, vals) in enumerate(self.axes.items()))
            self._html = (
                f'<div class="tdlib-gridview" id="{gid}"><style>{_STYLE}</style>'
                f'<div class="gv-controls">{sliders}</div>'
                f'<img class="gv-figure" alt="" src="">'
                f'<table class="gv-numbers"><tbody></tbody></table>'
                f'<script type="application/json" class="gv-data">{payload}</script>'
                f'<script>{_SCRIPT % {"id": json.dumps(gid)}}</script></div>')
        return self._html

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": f"<GridView {self.title!r}: {', '.join(self.axes)}>",
                  "text/html": self.html()}
        if self.live is not None:
            live = self.live._repr_mimebundle_(include=include, exclude=exclude)
            data = live[0] if isinstance(live, tuple) else live
            key = "application/vnd.jupyter.widget-view+json"
            if data and key in data:
                bundle[key] = data[key]
        return bundle

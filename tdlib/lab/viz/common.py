"""What every page's figures and tables share: one colour per task kind, one provenance caption
style, full-width figure sizes, HTML tables and wrapped text for results.

- :data:`KIND_COLORS` / :func:`kind_color`: the colour of a task kind (``human``, ``random``,
  ``discovered``, ``untrained``, ``randnet``, ...), used by every figure of the book.
- :func:`caption`: the provenance caption under a figure (profile, device, date and commit from
  ``ResultStore.caption()``, plus the run's recipe), wrapped and in a readable size.
- :func:`html_table`: a table that renders as HTML in the book and as aligned text in a terminal.
- :class:`Text`: a string that renders as wrapped paragraphs in the book.
- :func:`no_paths`: replaces machine paths in messages shown on a page.
"""
from __future__ import annotations

import html
import math
import re
import textwrap

import matplotlib.pyplot as plt
import numpy as np

# ---- colours --------------------------------------------------------------------------------------
#: One colour per kind of task, for every figure of the book.
KIND_COLORS = {
    "human": "#1f77b4",        # blue
    "random": "#7f7f7f",       # grey
    "discovered": "#d62728",   # red
    "untrained": "#e377c2",    # pink: the discovery encoder before meta-training
    "unseen": "#17becf",       # cyan: hyperplanes of the trained encoder not sampled in meta-training
    "randnet": "#ff7f0e",      # orange: random-network tasks (Sec. 4.4)
    "greenpixel": "#2ca02c",   # green
    "cue": "#bcbd22",          # olive: planted cues of the built-in data
    "ssl": "#8c564b",          # brown: SSL-regulated discovered tasks (Sec. 5.1)
    "unseen": "#17becf",       # cyan: new random hyperplanes on the trained encoder (App. I.2)
}
OTHER_COLOR = "#9467bd"        # purple: anything else
#: Split kinds (Sec. 6): the accuracy is that of a human target task, so shades of its blue.
SPLIT_COLORS = {"random": "#9ecae1", "adversarial": "#08306b"}
#: Markers for the architecture a task was discovered with (Sec. 5.2); the colour stays the kind's.
ARCH_MARKERS = {"cnn": "o", "resnet18": "o", "mlp": "s", "vit": "^"}

FULL_WIDTH = 8.0               # inches: a figure this wide fills the page column at about 1:1
CAPTION_SIZE = 9.5             # points

# Figures that put results of several experiments side by side: (function, experiments). Each
# checks its inputs with :func:`tdlib.lab.records.same_recipe` and says so in the caption where they
# differ; ``tests/test_records.py`` checks that no stored comparison mixes recipes.
COMPARISONS = {"sec4.plot_random_networks": ("e7", "e5")}


def kind_of(name: str) -> str:
    """The task kind of a task or group name: ``human:3`` -> ``human``, ``discovered-mlp`` ->
    ``discovered``, ``discovered:0:cpu/ssl`` -> ``ssl``."""
    name = str(name)
    if name.startswith("discovered") and name.rstrip("/").endswith("/ssl"):
        return "ssl"
    return re.split(r"[:\-/ ]", name, maxsplit=1)[0]


def kind_color(name: str) -> str:
    """The colour of a task kind (or of a task / group name, by its kind)."""
    return KIND_COLORS.get(name, KIND_COLORS.get(kind_of(name), OTHER_COLOR))


# ---- figures --------------------------------------------------------------------------------------
def new_fig(ncols=1, width=None, height=3.4, nrows=1, **kw):
    """A figure of ``nrows x ncols`` panels, full width (``FULL_WIDTH``, or ``width`` per column where
    that is wider, up to 1.25 x); returns ``(fig, axes)`` with ``axes`` flat."""
    total = FULL_WIDTH if width is None else min(max(width * ncols, FULL_WIDTH), 1.25 * FULL_WIDTH)
    fig, axes = plt.subplots(nrows, ncols, figsize=(total, height * nrows), squeeze=False, **kw)
    return fig, axes.ravel()


def recipe(store) -> str:
    """The training recipe of the networks behind a stored result (from its params): architecture,
    training images, epochs, batch, optimizer and learning-rate schedule."""
    p = (store.data.get("params") or {}) if store is not None else {}
    if not all(k in p for k in ("arch", "epochs", "lr")):
        return ""
    from ..experiments import training_params
    g = training_params(store.data.get("experiment"), p).get            # Sec. 3: its own pool and networks
    n = g("n_train")
    width = f" (width {g('width')})" if g("width") is not None else ""
    fit = f", stopped at train accuracy {g('fit_stop')}" if g("fit_stop") else ""
    return (f"recipe: {p['arch']}{width}, |X_tr| = {n}, {g('epochs')} epochs{' at most' if fit else ''}, batch "
            f"{p.get('batch_size', '?')}, Adam lr {p['lr']} ({g('lr_schedule') or 'constant'} schedule){fit}")


def recipe_note(store, others=()) -> str:
    """'' when ``store`` and ``others`` share one recipe, else a warning naming the differences."""
    from ..records import same_recipe
    diffs = same_recipe(store, *others, strict=False) if others else []
    return ("RECIPES DIFFER, compare with care: " + "; ".join(diffs)) if diffs else ""


def caption_text(store, extra: str = "", with_recipe: bool = True, others=()) -> str:
    """The provenance text of a figure: a warning if ``others`` (shown in the same figure) were made
    with another recipe, what ``store.caption()`` says (profile, device, date, commit, recipe hash),
    the run's training recipe, then ``extra``."""
    note = recipe_note(store, [o for o in others if o is not None]) if store is not None else ""
    parts = [note, store.caption() if store is not None else "", recipe(store) if with_recipe else "", extra]
    return "; ".join(t for t in parts if t)


def caption(fig, store, extra: str = "", title: str | None = None, with_recipe: bool = True,
            others=()) -> None:
    """The book's one caption style: a grey, wrapped provenance text under the figure (profile,
    device, date and commit, the recipe, then ``extra``; first a warning when ``others``, shown in the
    same figure, were made with another recipe), in a readable size. ``title`` (optional) goes above
    the figure as its suptitle. Call it last: it lays the figure out."""
    if title:
        fig.suptitle(title, fontsize=11)
    text = caption_text(store, extra, with_recipe, others)
    fig.tight_layout()
    if not text:
        return
    width_in = fig.get_size_inches()[0]
    chars = max(40, int(width_in * 72 / (CAPTION_SIZE * 0.52)))
    wrapped = textwrap.fill(f"Results: {text}", chars)
    # below the lowest axes' tick labels; bbox_inches="tight" (the inline backend) keeps it on the image
    renderer = fig.canvas.get_renderer()
    bottom = min((ax.get_tightbbox(renderer).y0 for ax in fig.axes if ax.get_visible()), default=0)
    y = bottom / fig.bbox.height - 0.02
    fig.text(0.0, y, wrapped, fontsize=CAPTION_SIZE, color="0.3", ha="left", va="top",
             transform=fig.transFigure, linespacing=1.3)
    fig._tdlib_caption = text               # for tests and for code that saves the figure


def image_rows(rows, store, title: str, extra: str = ""):
    """Figure of image rows (Sec. 5.1, App. B, App. C): ``rows`` = ``[(label, class-0 images, class-1
    images, ...)]`` (uint8 HWC arrays, two classes or K); each row spans the page width, its label above it."""
    n_img = max([sum(len(a) for a in r[1:]) for r in rows] + [1])   # the widest row: its images ...
    n_gap = max([len(r) - 2 for r in rows] + [1])                     # ... and the gaps between classes
    strip = FULL_WIDTH * 0.98 / (n_img + 0.25 * n_gap)      # height of one row of images, inches
    # one row also needs room for the title above and the class names; a lone row gets more
    fig, axes = new_fig(1, nrows=len(rows), height=strip + (0.32 if len(rows) > 1 else 0.9))
    gap = np.full((32, 8, 3), 255, np.uint8)
    for r, (ax, (label, *classes)) in enumerate(zip(axes, rows)):
        strips = [a for c in classes for a in (*c, gap)][:-1]
        ax.imshow(np.concatenate(strips, axis=1) if all(len(c) for c in classes) else gap)
        ax.set_yticks([])
        ax.set_title(label, fontsize=9, loc="left", pad=3)
        if r == 0:
            ax.xaxis.tick_top()
            starts = np.cumsum([0] + [32 * len(c) + 8 for c in classes[:-1]])
            ax.set_xticks([s0 + 16 * len(c) for s0, c in zip(starts, classes)],
                          [f"class {i}" for i in range(len(classes))], fontsize=9)
            ax.set_title(label, fontsize=9, loc="left", pad=16)
        else:
            ax.set_xticks([])
    caption(fig, store, extra, title=title, with_recipe=False)
    return fig


# ---- text and tables ------------------------------------------------------------------------------
_PATH = re.compile(r"(?<![\w.~$])/[\w.+-]*[\w+-](?:/[\w.+-]*[\w+-])*/?")


def no_paths(text: str, name: str = "the data folder") -> str:
    """``text`` with absolute machine paths replaced by ``name`` (pages show no machine paths)."""
    return _PATH.sub(name, str(text))


class page_output:
    """Context manager: what the code inside prints is shown with machine paths replaced
    (:func:`no_paths`), e.g. messages that name where data were looked for."""

    def __init__(self, name: str = "the data folder"):
        self.name = name

    def __enter__(self):
        import contextlib
        import io
        self._buf = io.StringIO()
        self._redirect = contextlib.redirect_stdout(self._buf)
        self._redirect.__enter__()
        return self

    def __exit__(self, *exc):
        self._redirect.__exit__(*exc)
        text = self._buf.getvalue()
        if text:
            print(no_paths(text, self.name), end="")
        return False


class Text(str):
    """A string that the book shows as wrapped paragraphs (one per line of the string) and a
    terminal prints as is."""

    def _repr_html_(self) -> str:
        paras = [html.escape(p) for p in self.split("\n") if p.strip()]
        return "".join(f'<p class="tdlib-text">{p}</p>' for p in paras)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))


def fmt(value, digits: int = 3) -> str:
    """A table cell: floats to ``digits`` decimals, NaN as 'n/a', lists joined, the rest as str."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return "n/a" if math.isnan(value) else f"{value:.{digits}f}"
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(fmt(v, digits) for v in value)
    return str(value)


class HTMLTable:
    """Rows of cells: HTML in the book, aligned text in a terminal (``str``)."""

    def __init__(self, columns, rows, caption: str = "", index: bool = True, digits: int = 3, source: str = ""):
        self.columns = [str(c) for c in columns]
        self.rows = [[fmt(v, digits) for v in r] for r in rows]
        self.caption = caption
        self.index = index
        self.source = source                 # the provenance line under the table

    def __len__(self):
        return len(self.rows)

    def _repr_html_(self) -> str:
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = []
        for r in self.rows:
            cells = []
            for i, v in enumerate(r):
                tag = "th" if self.index and i == 0 else "td"
                num = ' class="num"' if re.fullmatch(r"[-+]?[\d.]+[*]?|n/a", v) else ""
                cells.append(f"<{tag}{num}>{html.escape(v)}</{tag}>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        foot = (f'<tfoot><tr><td class="tdlib-source" colspan="{len(self.columns)}">Results: '
                f"{html.escape(self.source)}</td></tr></tfoot>" if self.source else "")
        return (f'<table class="tdlib-table">{cap}<thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(body)}</tbody>{foot}</table>")

    def __str__(self) -> str:
        widths = [max([len(c)] + [len(r[i]) for r in self.rows]) for i, c in enumerate(self.columns)]
        line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
        out = [line(self.columns), "  ".join("-" * w for w in widths)] + [line(r) for r in self.rows]
        return "\n".join(([self.caption] if self.caption else []) + out
                         + ([f"Results: {self.source}"] if self.source else []))

    __repr__ = __str__

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))


def html_table(data, columns=None, caption: str = "", index_name: str = "", digits: int = 3,
               store=None) -> HTMLTable:
    """A table from ``{row name: {column: value}}``, ``{name: value}`` (two columns), or a list of
    rows (``columns`` then names the columns); floats shown to ``digits`` decimals. With ``store``,
    its provenance (the figures' caption text, :func:`caption_text`) goes under the table."""
    src = caption_text(store) if store is not None else ""
    if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        cols = columns or list(dict.fromkeys(c for row in data.values() for c in row))
        rows = [[name] + [row.get(c) for c in cols] for name, row in data.items()]
        return HTMLTable([index_name] + list(cols), rows, caption, True, digits, src)
    if isinstance(data, dict):
        return HTMLTable(columns or [index_name, ""], [[k, v] for k, v in data.items()], caption, True, digits, src)
    return HTMLTable(columns, [list(r) for r in data], caption, False, digits, src)


# ---- numbers --------------------------------------------------------------------------------------
def summarize(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.3f} ± {v.std():.3f} (n={len(v)})" if len(v) else "n/a"


def as_bins(groups: dict, n: int = 31):
    """Histogram bins for AS values from 0.4 (or lower, since AS can fall below 0.5) to 1."""
    lo = min([0.4] + [v for vals in groups.values() for v in vals])
    return np.linspace(np.floor(lo * 20) / 20, 1.0, n)


GLUED: dict = {}        # every value glued in this kernel, by name (shown by :func:`glued` outside the book)


def glued(*names):
    """The glued values ``names`` as a small table: what the book's prose shows in place of ``[name]``
    (the paired notebooks in Colab / JupyterHub, where the glue roles do not render)."""
    def show(v):
        return f"{v:.3f}" if isinstance(v, (float, np.floating)) else str(v)
    rows = {n: {"value": show(GLUED[re.sub(r"\W", "_", n)]) if re.sub(r"\W", "_", n) in GLUED
                else "(not computed in this session)"} for n in names}
    try:
        from IPython.display import HTML
        return HTML("<table>" + "".join(f"<tr><td><code>{n}</code></td><td>{r['value']}</td></tr>"
                                        for n, r in rows.items()) + "</table>")
    except ImportError:
        return "\n".join(f"{n}: {r['value']}" for n, r in rows.items())


def glue(values: dict) -> None:
    """Glue ``{name: value}`` for the page's prose (myst-nb ``{glue:text}`` for numbers, ``{glue:md}``
    for strings), shown nowhere else; characters other than letters, digits and ``_`` in a name
    become ``_``."""
    for name, value in values.items():               # kept for glued(), with or without myst-nb
        GLUED[re.sub(r"\W", "_", name)] = value
    try:
        from myst_nb import glue as _glue
    except ImportError:                 # pragma: no cover (Colab: no myst-nb; glued() shows the values)
        return
    for name, value in values.items():
        name = re.sub(r"\W", "_", name)              # glue keys: letters, digits, underscores
        if isinstance(value, (float, np.floating)):
            value = float(value)
        elif isinstance(value, str):
            from IPython.display import Markdown
            value = Markdown(value)
        _glue(name, value, display=False)

"""The method of Sec. 4 as a diagram (paper Fig. 1-left and Fig. 3), drawn with matplotlib at build time:
images -> shared encoder g_θ -> embedding in R^d -> a hyperplane u gives the task's soft labels -> two
inner networks trained on them for K SGD steps -> their agreement on each fresh batch (proxy-AS, Eq.
proxy-AS) -> meta-gradient to θ, with the uniformity loss (Eq. 5) on the same embeddings."""
from __future__ import annotations

from .common import new_fig


def _box(ax, x, y, w, h, text, colour, fontsize=7):
    from matplotlib.patches import FancyBboxPatch
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.06",
                                fc=colour, ec="#444", lw=1))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize, wrap=True)


def _arrow(ax, x0, y0, x1, y1, text="", colour="#333", style="-|>", ls="-", fontsize=6.5, dy=0.05):
    ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle=style, color=colour, lw=1.3, ls=ls))
    if text:
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + dy, text, ha="center", va="bottom", fontsize=fontsize, color=colour)


def method_diagram():
    """One meta-step of task discovery with a shared encoder (Sec. 4.3-4.4, Algorithm 1)."""
    fig, axes = new_fig(height=3.6)
    ax = axes[0]
    ax.set(xlim=(0, 10), ylim=(0, 3.6))
    ax.axis("off")
    _box(ax, 0.0, 1.45, 1.3, 0.9, "images\n(a fresh batch\nx_k per step)", "#eef3fb")
    _box(ax, 1.6, 1.45, 1.45, 0.9, "shared\nencoder g_θ", "#dfe9f7")
    _box(ax, 3.35, 1.45, 1.45, 0.9, "embedding\ng_θ(x) ∈ R^d", "#dfe9f7")
    _box(ax, 5.15, 1.45, 1.45, 0.9, "task τ_θ,u:\nsoft labels\nof hyperplane u", "#fbeedd")
    _box(ax, 7.0, 2.4, 1.35, 0.8, "network f_w1:\nK SGD steps", "#e3f2e1")
    _box(ax, 7.0, 0.6, 1.35, 0.8, "network f_w2:\nK SGD steps", "#e3f2e1")
    _box(ax, 8.65, 1.45, 1.35, 0.9, "proxy-AS:\nagreement\non each x_k", "#f6e0e0")
    _box(ax, 3.35, 0.05, 1.45, 0.75, "λ · L_unif\n(Eq. 5)", "#efe6f6")
    _arrow(ax, 1.3, 1.9, 1.6, 1.9)
    _arrow(ax, 3.05, 1.9, 3.35, 1.9)
    _arrow(ax, 4.8, 1.9, 5.15, 1.9)
    _arrow(ax, 6.6, 2.1, 7.0, 2.7)
    _arrow(ax, 6.6, 1.7, 7.0, 1.1)
    _arrow(ax, 8.35, 2.75, 8.85, 2.35)
    _arrow(ax, 8.35, 1.0, 8.85, 1.45)
    _arrow(ax, 4.07, 1.45, 4.07, 0.8)
    # the meta-gradient back to θ (through the unrolled inner loop and through L_unif)
    ax.annotate("", (2.3, 2.35), (9.3, 2.35), arrowprops=dict(arrowstyle="-|>", color="#b22", lw=1.4, ls="--",
                                                               connectionstyle="arc3,rad=0.3"))
    ax.text(5.8, 3.45, "meta-gradient of −proxy-AS + λ·L_unif through the unrolled steps: an Adam step on θ",
            ha="center", fontsize=7, color="#b22")
    ax.annotate("", (2.3, 1.45), (3.35, 0.45), arrowprops=dict(arrowstyle="-|>", color="#b22", lw=1.2, ls="--"))
    return fig

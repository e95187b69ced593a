"""Plotting helpers, one module per book page (matplotlib); `gridview`: sliders over precomputed results
that work in the static book."""

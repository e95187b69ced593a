"""Plotting helpers, one module per book page (matplotlib; plotly where a static slider helps)."""

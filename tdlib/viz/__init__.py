"""Plotting helpers, one module per book page (matplotlib)."""

"""Plotting helpers, one module per book page (``tdlib.viz.sec6`` for Sec. 6)."""

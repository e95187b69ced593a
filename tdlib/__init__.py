"""tdlib: the machinery of *Task Discovery* (Atanov et al., NeurIPS 2022)."""
__version__ = "0.1.0"

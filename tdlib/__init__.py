"""tdlib: the machinery of *Task Discovery* (Atanov et al., NeurIPS 2022)."""
__version__ = "0.1.0"

from . import randnet as _randnet  # noqa: F401,E402  (registers the ``randnet:`` task kind)
from . import greenpixel as _greenpixel  # noqa: F401,E402  (registers the ``greenpixel:`` task kind)

"""One module per command of ``python -m tdlib`` (see :mod:`tdlib.lab.cli`)."""

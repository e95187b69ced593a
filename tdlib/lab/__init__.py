"""The lab: what runs the method and keeps what it found.

The profiles' results store (:mod:`tdlib.lab.results`, ``results/<profile>/``), the discovery runs and the
``discovered:`` task kind (:mod:`tdlib.lab.runs`), the experiment records (:mod:`tdlib.lab.experiments`,
:mod:`tdlib.lab.records`), the runner and its queue (:mod:`tdlib.lab.queue`, :mod:`tdlib.lab.cli`,
:mod:`tdlib.lab.commands`), the claims each page checks (:mod:`tdlib.lab.claims`), the figures
(:mod:`tdlib.lab.viz`, :mod:`tdlib.lab.taskviz`) and the book's helpers (:mod:`tdlib.lab.notebooks`,
:mod:`tdlib.lab.sphinx_offline`).

The method (``tdlib.data``, ``tdlib.tasks``, ``tdlib.train``, ``tdlib.agreement``, ``tdlib.discovery``,
``tdlib.splits``, ...) sits one level up and knows nothing of the lab: imports go from here to there only.
"""

from . import runs as _runs  # noqa: F401,E402  (registers the ``discovered:`` task kind: the lab's stored runs)

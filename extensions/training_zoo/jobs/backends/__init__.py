"""Job backends: the interface (:mod:`.base`) and the embedded default (:mod:`.local`).

Backends are chosen with ``c.TzJobManager.backend_class``, by alias from the
``training_zoo.job_backends`` entry-point group (``local``; ``kubernetes`` in a later release) or by
import string, like JupyterHub's ``spawner_class``.
"""

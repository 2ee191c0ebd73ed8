"""The datasets domain: the workspace ("network disk"), upload sessions, and (later) datasets.

- :mod:`.paths`: confines every user-named path to the space its caller may reach.
- :mod:`.workspace`: :class:`TzWorkspace`, files and folders on TZ storage (local folder or S3).
- :mod:`.uploads`: :class:`TzUploads`, resumable multipart upload sessions.
"""

from .paths import workspace_key
from .uploads import TzUploads
from .workspace import TzWorkspace

__all__ = ["TzUploads", "TzWorkspace", "workspace_key"]

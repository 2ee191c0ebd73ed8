# TZ's custom scopes, the roles that grant them, and what a user server's token may do.
import os

from training_zoo.hub import custom_scopes, roles, server_token_scopes

c.JupyterHub.custom_scopes = custom_scopes()  # noqa: F821
_admins = [u.strip() for u in os.environ.get("TZ_ADMIN_USERS", "admin").split(",") if u.strip()]
_roles = roles(_admins)
# On Kubernetes z2jh has already registered roles (the idle culler's, hub.loadRoles): keep them.
_earlier = c.JupyterHub.get("load_roles")  # noqa: F821
_earlier = [r for r in _earlier or [] if r.get("name") not in {r["name"] for r in _roles}]
c.JupyterHub.load_roles = _earlier + _roles  # noqa: F821
c.Spawner.server_token_scopes = server_token_scopes()  # noqa: F821

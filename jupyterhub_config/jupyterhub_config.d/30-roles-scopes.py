# TZ's custom scopes, the roles that grant them, and what a user server's token may do.
import os

from training_zoo.hub import custom_scopes, roles, server_token_scopes

c.JupyterHub.custom_scopes = custom_scopes()  # noqa: F821
_admins = [u.strip() for u in os.environ.get("TZ_ADMIN_USERS", "admin").split(",") if u.strip()]
c.JupyterHub.load_roles = roles(_admins)  # noqa: F821
c.Spawner.server_token_scopes = server_token_scopes()  # noqa: F821

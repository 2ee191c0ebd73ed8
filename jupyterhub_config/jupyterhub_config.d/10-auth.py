# Login: JupyterHub's shared-password authenticator (never one without a secret). Users log in with
# any name and TZ_PASSWORD; names in TZ_ADMIN_USERS must use TZ_ADMIN_PASSWORD (32+ characters).
# Kubernetes deployments replace this fragment's choice with their own authenticator.
import os

if os.environ.get("TZ_PASSWORD"):
    c.JupyterHub.authenticator_class = "shared-password"  # noqa: F821
    c.SharedPasswordAuthenticator.user_password = os.environ["TZ_PASSWORD"]  # noqa: F821
    c.Authenticator.allow_all = True  # noqa: F821
    admins = {u.strip() for u in os.environ.get("TZ_ADMIN_USERS", "admin").split(",") if u.strip()}
    c.Authenticator.admin_users = admins  # noqa: F821
    if os.environ.get("TZ_ADMIN_PASSWORD"):
        c.SharedPasswordAuthenticator.admin_password = os.environ["TZ_ADMIN_PASSWORD"]  # noqa: F821

# Teams (JupyterHub groups) for the embedded default: TZ_TEAMS="vision=alice,bob;nlp=carol".
if os.environ.get("TZ_TEAMS"):
    from training_zoo.hub import load_groups

    c.JupyterHub.load_groups = load_groups(os.environ["TZ_TEAMS"])  # noqa: F821

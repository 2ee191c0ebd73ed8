"""The hub config fragments, loaded the way JupyterHub loads them, give the intended Config."""

from __future__ import annotations

from pathlib import Path

import pytest
from traitlets.config.loader import PyFileConfigLoader

CONFIG = Path(__file__).parents[2] / "jupyterhub_config" / "jupyterhub_config.py"


@pytest.fixture
def config(monkeypatch, tmp_path):
    monkeypatch.setenv("TZ_HOME", str(tmp_path))
    monkeypatch.setenv("TZ_PASSWORD", "a-user-password")
    monkeypatch.setenv("TZ_ADMIN_PASSWORD", "x" * 40)
    monkeypatch.setenv("TZ_ADMIN_USERS", "root,boss")
    monkeypatch.setenv("TZ_PORT", "8123")
    return PyFileConfigLoader(CONFIG.name, str(CONFIG.parent)).load_config()


def test_embedded_default_uses_local_processes_proxy_and_sqlite(config, tmp_path):
    assert config.JupyterHub.spawner_class.endswith("SimpleLocalProcessSpawner")
    assert config.JupyterHub.bind_url == "http://127.0.0.1:8123"
    assert config.JupyterHub.db_url == f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}"
    assert config.ConfigurableHTTPProxy.command[0].endswith("configurable-http-proxy")


def test_a_real_authenticator_with_secrets(config):
    assert config.JupyterHub.authenticator_class == "shared-password"
    assert config.SharedPasswordAuthenticator.user_password == "a-user-password"
    assert config.Authenticator.admin_users == {"root", "boss"}


def test_tz_is_a_hub_managed_service_that_user_servers_reach(config):
    (service,) = config.JupyterHub.services
    assert service["name"] == "tz" and "training_zoo.service" in service["command"]
    assert not any("PASSWORD" in k for k in service["environment"])
    environment = config.Spawner.environment.get_value({})  # a lazy update() of the default
    assert environment["TZ_SERVICE_URL"] == service["url"] + "/services/tz/"


def test_roles_grant_tz_scopes_and_admins_get_tz_admin(config):
    roles = {r["name"]: r for r in config.JupyterHub.load_roles}
    assert {"self", "access:services!service=tz", "custom:tz:jobs:write"} <= set(
        roles["user"]["scopes"]
    )
    assert roles["tz-admin"]["users"] == ["root", "boss"]
    assert "custom:tz:admin" in roles["tz-admin"]["scopes"]
    assert set(config.JupyterHub.custom_scopes) == {
        f"custom:tz:{domain}:{verb}"
        for domain in ("jobs", "workspace", "datasets", "models")
        for verb in ("read", "write")
    } | {"custom:tz:admin"}
    assert "access:services!service=tz" in config.Spawner.server_token_scopes
    assert "access:servers!server" in config.Spawner.server_token_scopes


def test_magics_are_auto_loaded_in_user_kernels(config, tmp_path):
    class FakeUser:
        name = "dana"

    class FakeSpawner:
        user = FakeUser()
        home_dir_template = config.SimpleLocalProcessSpawner.home_dir_template

    config.Spawner.pre_spawn_hook(FakeSpawner())
    startup = tmp_path / "users/dana/.ipython/profile_default/startup/00-training-zoo.py"
    assert "load_ext" in startup.read_text() and "training_zoo" in startup.read_text()


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("", {}),
        ("vision=alice,bob", {"vision": {"users": ["alice", "bob"]}}),
        (
            " vision = bob , alice ; nlp=carol;",
            {"vision": {"users": ["alice", "bob"]}, "nlp": {"users": ["carol"]}},
        ),
        ("empty=", {"empty": {"users": []}}),
    ],
)
def test_teams_come_from_tz_teams(text, groups):
    from training_zoo.hub import load_groups

    assert load_groups(text) == groups


@pytest.mark.parametrize("text", ["vision", "=alice", "a b=alice", "../x=alice"])
def test_malformed_tz_teams_name_the_entry(text):
    from training_zoo.hub import load_groups

    with pytest.raises(ValueError, match="TZ_TEAMS"):
        load_groups(text)

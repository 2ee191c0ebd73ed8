"""Workspace path confinement: a corpus of hostile paths and spaces, each refused; good names kept.

Every payload must be refused with ``InvalidRequest`` naming the parameter, or (for spaces the
caller may not reach) ``NotFound``; none may produce a key outside the caller's prefix.
"""

from __future__ import annotations

import pytest
from traversal import HOSTILE_PATHS, HOSTILE_SPACES

from training_zoo.datasets.paths import workspace_key
from training_zoo.errors import InvalidRequest, NotFound
from training_zoo.identity import ADMIN_SCOPE, Identity

ALICE = Identity("alice", groups=("data", "vision"))
BOB = Identity("bob", groups=("data-secret",))
ADMIN = Identity("root", scopes=frozenset({ADMIN_SCOPE}))

GOOD_PATHS = [
    ("", "workspace/users/alice"),
    ("a.txt", "workspace/users/alice/a.txt"),
    ("a..b.txt", "workspace/users/alice/a..b.txt"),
    ("...", "workspace/users/alice/..."),
    ("..a", "workspace/users/alice/..a"),
    (".hidden", "workspace/users/alice/.hidden"),
    ("my folder/my file (1).txt", "workspace/users/alice/my folder/my file (1).txt"),
    ("数据/图片 01.png", "workspace/users/alice/数据/图片 01.png"),
    ("caf\u00e9/na\u0131ve.csv", "workspace/users/alice/caf\u00e9/na\u0131ve.csv"),
    ("e\u0301.txt", "workspace/users/alice/e\u0301.txt"),  # decomposed é (macOS names)
    ("family \U0001f468\u200d\U0001f469\u200d\U0001f467.jpg",
     "workspace/users/alice/family \U0001f468\u200d\U0001f469\u200d\U0001f467.jpg"),
    ("100%.csv", "workspace/users/alice/100%.csv"),
    ("50%25 off.txt", "workspace/users/alice/50%25 off.txt"),
    ("~", "workspace/users/alice/~"),
    ("a" * 255, "workspace/users/alice/" + "a" * 255),
]  # fmt: skip


def test_corpus_is_large_enough() -> None:
    assert len(HOSTILE_PATHS) + len(HOSTILE_SPACES) >= 60
    assert len(HOSTILE_PATHS) >= 60


@pytest.mark.parametrize("path", HOSTILE_PATHS, ids=repr)
def test_hostile_path_refused(path: str) -> None:
    with pytest.raises(InvalidRequest) as e:
        workspace_key(ALICE, "user:alice", path)
    assert set(e.value.errors) == {"path"}


@pytest.mark.parametrize("path", HOSTILE_PATHS, ids=repr)
def test_hostile_path_refused_in_team_space_for_admin(path: str) -> None:
    with pytest.raises(InvalidRequest):
        workspace_key(ADMIN, "team:data", path)


@pytest.mark.parametrize("space", HOSTILE_SPACES, ids=repr)
def test_hostile_space_refused(space: object) -> None:
    with pytest.raises(InvalidRequest) as e:
        workspace_key(ALICE, space, "a.txt")  # type: ignore[arg-type]
    assert set(e.value.errors) == {"space"}


@pytest.mark.parametrize(("path", "key"), GOOD_PATHS, ids=repr)
def test_good_path_accepted(path: str, key: str) -> None:
    assert workspace_key(ALICE, "user:alice", path) == key


def test_field_name_is_passed_through() -> None:
    with pytest.raises(InvalidRequest) as e:
        workspace_key(ALICE, "user:alice", "../x", field="target")
    assert set(e.value.errors) == {"target"}


def test_whole_key_limit() -> None:
    # Each segment is fine, but the key with its prefix is over S3's 1024 bytes.
    path = "/".join(["b" * 250] * 4) + "/" + "c" * 20
    with pytest.raises(InvalidRequest):
        workspace_key(ALICE, "user:alice", path)


# -------------------------------------------------------------------- membership


@pytest.mark.parametrize(
    ("who", "space", "prefix"),
    [
        (ALICE, "user:alice", "workspace/users/alice"),
        (ALICE, "team:data", "workspace/teams/data"),
        (ALICE, "team:vision", "workspace/teams/vision"),
        (BOB, "user:bob", "workspace/users/bob"),
        (BOB, "team:data-secret", "workspace/teams/data-secret"),
        (ADMIN, "user:alice", "workspace/users/alice"),
        (ADMIN, "team:data-secret", "workspace/teams/data-secret"),
    ],
)
def test_reachable_spaces(who: Identity, space: str, prefix: str) -> None:
    assert workspace_key(who, space, "x/y.txt") == prefix + "/x/y.txt"
    assert workspace_key(who, space, "") == prefix


@pytest.mark.parametrize(
    ("who", "space"),
    [
        (ALICE, "user:bob"),
        (ALICE, "team:data-secret"),  # a member of 'data' is not one of 'data-secret'
        (ALICE, "team:dat"),
        (ALICE, "team:Data"),
        (ALICE, "user:Alice"),
        (BOB, "team:data"),  # nor the other way round
        (BOB, "user:alice"),
        (Identity("nobody"), "team:data"),
    ],
)
def test_unreachable_space_is_not_found(who: Identity, space: str) -> None:
    with pytest.raises(NotFound):
        workspace_key(who, space, "a.txt")


def test_sibling_prefix_never_shared() -> None:
    # No key of 'data' is a string prefix of a key of 'data-secret' or the reverse.
    a = workspace_key(ALICE, "team:data", "x")
    b = workspace_key(BOB, "team:data-secret", "x")
    assert not b.startswith(workspace_key(ALICE, "team:data", "") + "/-")
    assert a.split("/")[2] == "data" and b.split("/")[2] == "data-secret"

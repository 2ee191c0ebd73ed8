"""Confine every user-named workspace path to the one storage prefix its caller may reach.

A workspace *space* is ``user:<name>`` (that user's own folder; admins may reach it too) or
``team:<group>`` (shared by the members of a JupyterHub group). :func:`workspace_key` turns
``(identity, space, path)`` into a storage key under ``workspace/users/<name>/`` or
``workspace/teams/<group>/`` and refuses anything that could mean something else on the way to
storage: ``..`` and ``.`` segments, absolute paths, backslashes, control characters, empty
segments, percent-encoded traversal (also double-encoded), Unicode lookalikes that NFKC folds into
``.`` or ``/``, and over-long keys or segments. Checking the *space* name with the same rules is
what keeps ``team:data`` from ever reaching ``team:data-secret``: the prefix always ends with
``/<group>/`` exactly.

A space the caller may not reach answers :class:`NotFound`, never 403: whether another user's or
team's folder exists is itself private (JupyterHub's filtered scopes do the same).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

from ..errors import InvalidRequest, NotFound
from ..identity import Identity

WORKSPACE_PREFIX = "workspace"
MAX_KEY_BYTES = 1024  # S3's limit on a whole key
MAX_SEGMENT_BYTES = 255  # a file name on every common local filesystem
# Segments TZ keeps for itself (temporary files of atomic writes, upload staging); never listed.
RESERVED_PREFIX = ".tz-"

# Characters that look like a slash or a dot leader but that NFKC does not fold (or folds into a
# separator): a name carrying one is a trick, never a real file name worth the risk.
LOOKALIKES = frozenset(
    "\u2215"  # DIVISION SLASH
    "\u2044"  # FRACTION SLASH
    "\u29f8"  # BIG SOLIDUS
    "\u29f9"  # BIG REVERSE SOLIDUS
    "\u2216"  # SET MINUS
    "\ufe68"  # SMALL REVERSE SOLIDUS
    "\uff0f"  # FULLWIDTH SOLIDUS
    "\uff3c"  # FULLWIDTH REVERSE SOLIDUS
    "\u2024"  # ONE DOT LEADER
    "\u2025"  # TWO DOT LEADER
    "\ufe52"  # SMALL FULL STOP
    "\uff0e"  # FULLWIDTH FULL STOP
)
# Format characters that reorder or hide text (bidi overrides, zero-width space, BOM) make a name
# display as something else; ZWJ/ZWNJ are kept because real scripts and emoji need them.
ALLOWED_FORMAT = frozenset("\u200c\u200d")


def _unsafe_char(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category in ("Cc", "Cs", "Zl", "Zp", "Co", "Cn"):
        return True
    if category == "Cf" and ch not in ALLOWED_FORMAT:
        return True
    return ch in LOOKALIKES


def _segment_problem(segment: str) -> str | None:
    """Why ``segment`` cannot be one name in a key, or ``None`` when it can."""
    if segment == "":
        return "empty path segment"
    if segment in (".", ".."):
        return f"'{segment}' segments are not allowed"
    if "\\" in segment:
        return "backslashes are not allowed"
    if any(_unsafe_char(ch) for ch in segment):
        return "control, format or lookalike characters are not allowed"
    if len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES:
        return f"a name is longer than {MAX_SEGMENT_BYTES} bytes"
    if segment.startswith(RESERVED_PREFIX):
        return f"names starting with '{RESERVED_PREFIX}' are reserved"
    # Compatibility forms (fullwidth dots, ...) must not fold into a separator or a dot segment
    # in some later component that normalises.
    folded = unicodedata.normalize("NFKC", segment)
    if folded != segment and ("/" in folded or "\\" in folded or folded.strip(".") == ""):
        return "Unicode characters that normalise to a path separator or '.' are not allowed"
    # Whatever decodes percent escapes later (a proxy, a client, a second decode) must see the
    # same single name: decode repeatedly, as an attacker's double encoding expects, and also the
    # NFKC form (fullwidth '％２ｅ' folds into '%2e').
    for decoded in {segment, folded}:
        for _ in range(4):
            if "%" not in decoded:
                break
            try:
                nxt = unquote(decoded, errors="strict")
            except UnicodeDecodeError:
                return "percent escapes that are not UTF-8 (overlong forms) are not allowed"
            if nxt == decoded:
                break
            decoded = nxt
            if "/" in decoded or "\\" in decoded or decoded.strip(".") == "":
                return "percent-encoded separators or dot segments are not allowed"
            if any(_unsafe_char(ch) for ch in decoded):
                return "percent-encoded control characters are not allowed"
    return None


def check_path(path: object, field: str = "path") -> list[str]:
    """The segments of a relative workspace path; ``""`` is the space's root (no segments).

    Raises
    ------
    InvalidRequest
        Naming ``field``, when the path is not a plain relative ``/``-separated path.
    """
    if not isinstance(path, str):
        raise InvalidRequest.field(field, "must be a string")
    if path == "":
        return []
    if path.startswith("/"):
        raise InvalidRequest.field(field, "absolute paths are not allowed")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest.field(field, "not valid Unicode text") from None
    if len(path.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidRequest.field(field, f"longer than {MAX_KEY_BYTES} bytes")
    segments = path.split("/")
    for segment in segments:
        problem = _segment_problem(segment)
        if problem:
            raise InvalidRequest.field(field, problem)
    return segments


def space_prefix(user: Identity, space: object) -> str:
    """The storage prefix (no trailing slash) of ``space`` when ``user`` may reach it.

    Raises
    ------
    InvalidRequest
        When ``space`` is not ``user:<name>`` or ``team:<group>`` with a valid name.
    NotFound
        When ``user`` may not reach the space (as if it did not exist).
    """
    if not isinstance(space, str) or ":" not in space:
        raise InvalidRequest.field("space", "must be 'user:<name>' or 'team:<group>'")
    kind, _, name = space.partition(":")
    if kind not in ("user", "team"):
        raise InvalidRequest.field("space", "must be 'user:<name>' or 'team:<group>'")
    problem = _segment_problem(name) if "/" not in name else "'/' is not allowed in a space name"
    if problem:
        raise InvalidRequest.field("space", problem)
    if kind == "user":
        allowed = name == user.name or user.admin
    else:
        # Exact membership: 'data' never grants 'data-secret' (no prefix matching anywhere).
        allowed = name in user.groups or user.admin
    if not allowed:
        raise NotFound(f"space {space} not found", reason="SpaceNotFound")
    return f"{WORKSPACE_PREFIX}/{'users' if kind == 'user' else 'teams'}/{name}"


def workspace_key(user: Identity, space: str, path: str, field: str = "path") -> str:
    """The storage key of ``path`` in ``space`` for ``user`` (``""`` is the space root).

    Raises
    ------
    InvalidRequest
        Naming ``space`` or ``field`` (default ``path``) for malformed input.
    NotFound
        When ``user`` may not reach ``space``.
    """
    prefix = space_prefix(user, space)
    segments = check_path(path, field)
    key = "/".join([prefix, *segments])
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidRequest.field(
            field, f"the storage key would be longer than {MAX_KEY_BYTES} bytes"
        )
    return key

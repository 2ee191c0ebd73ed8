"""Who may read and change a shared object (datasets, models): one rule for every domain.

An object has an ``owner``, a ``visibility`` (``private``, ``team`` or ``public``) and, for team
visibility, a ``team`` (a JupyterHub group). Readers: the owner, admins, everyone for public, the
team's members for team. Writers: the owner, admins and, for team objects, the team's members.
Objects a caller may not read are "not found" (404), never "forbidden".
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from .errors import InvalidRequest
from .identity import Identity

VISIBILITIES = ("private", "team", "public")


class Shared(Protocol):
    owner: str
    visibility: str
    team: str | None


def can_read(obj: Shared, user: Identity) -> bool:
    return (
        user.admin
        or obj.owner == user.name
        or obj.visibility == "public"
        or (obj.visibility == "team" and obj.team is not None and obj.team in user.groups)
    )


def can_write(obj: Shared, user: Identity) -> bool:
    return (
        user.admin
        or obj.owner == user.name
        or (obj.visibility == "team" and obj.team is not None and obj.team in user.groups)
    )


def readable_clause(cls: Any, user: Identity) -> Any:
    """A SQL condition selecting the rows of ``cls`` that ``user`` may read (admins: add none)."""
    clause = or_(cls.owner == user.name, cls.visibility == "public")
    if user.groups:
        clause = or_(clause, (cls.visibility == "team") & cls.team.in_(list(user.groups)))
    return clause


def listing(
    cls: Any,
    user: Identity,
    *,
    q: str = "",
    owner: str | None = None,
    visibility: str | None = None,
) -> Select:
    """The rows of ``cls`` that ``user`` may read, filtered as every list endpoint filters:
    ``q`` a substring of name or description (taken literally), an owner, a visibility.

    Raises
    ------
    InvalidRequest
        An unknown ``visibility``.
    """
    query = select(cls)
    if not user.admin:
        query = query.where(readable_clause(cls, user))
    if visibility:
        if visibility not in VISIBILITIES:
            raise InvalidRequest.field("visibility", "must be private, team or public")
        query = query.where(cls.visibility == visibility)
    if owner:
        query = query.where(cls.owner == owner)
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(cls.name.like(like, escape="\\"), cls.description.like(like, escape="\\"))
        )
    return query


def page(db: Session, query: Select, cls: Any, offset: int, limit: int) -> tuple[list, int]:
    """One page of ``query``, most recently updated first, and the total count."""
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(cls.updated.desc(), cls.id).offset(offset).limit(limit))
    return list(rows), total


def check_visibility(user: Identity, visibility: object, team: object) -> tuple[str, str | None]:
    """A valid ``(visibility, team)``: the team must be one of the caller's groups.

    Raises
    ------
    InvalidRequest
        Naming ``visibility`` or ``team``.
    """
    if visibility not in VISIBILITIES:
        raise InvalidRequest.field("visibility", "must be private, team or public")
    if team is not None:
        if not isinstance(team, str) or not team:
            raise InvalidRequest.field("team", "must be a group name or null")
        if team not in user.groups and not user.admin:
            raise InvalidRequest.field("team", f"you are not a member of the group {team!r}")
    if visibility == "team" and team is None:
        raise InvalidRequest.field("team", "team visibility needs a team (one of your groups)")
    return visibility, team  # type: ignore[return-value]

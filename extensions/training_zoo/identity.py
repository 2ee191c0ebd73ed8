"""Who is calling: :class:`Identity`, built by the service from a hub token, passed to managers."""

from __future__ import annotations

from dataclasses import dataclass, field

ADMIN_SCOPE = "custom:tz:admin"


@dataclass(frozen=True)
class Identity:
    name: str
    kind: str = "user"  # "user" or "service"
    groups: tuple[str, ...] = ()
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "admin": self.admin,
            "groups": list(self.groups),
            "scopes": sorted(s for s in self.scopes if s.startswith("custom:tz") or s == "*"),
        }

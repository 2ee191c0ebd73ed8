"""Generate docs/configuration.md from the traits' help text (run: ``python docs/gen_config.py``).

A unit test fails when the committed file differs from what this prints, so the reference can
never drift from the code.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

from traitlets import Undefined

HEADER = """# Configuration reference

Generated from the code by `docs/gen_config.py`; do not edit by hand.

The TZ service reads `tz_config.py` from its working directory (`TZ_HOME` under `make up`), e.g.

```python
c.TzJobManager.max_queued_per_user = 20
c.TzLocalBackend.cpu_slots = 8
c.TzStorage.url = "s3://tz-bucket/prod"
```

The user-server extension reads `c.TzForwarder.*` from the usual `jupyter_server_config.py`;
the magics read `c.TzMagics.*` from `ipython_config.py`.
Environment variables of the embedded default (`make up`): `TZ_HOME` (all state), `TZ_PORT`
(public port, 8000), `TZ_PASSWORD` (users' shared password), `TZ_ADMIN_PASSWORD` (admins',
32+ characters), `TZ_ADMIN_USERS` (comma list, `admin`), `TZ_TEAMS` (teams, i.e. JupyterHub
groups: `vision=alice,bob;nlp=carol`), `TZ_DB_URL`, and for tests `TZ_HUB_PORT`,
`TZ_PROXY_API_PORT`, `TZ_SERVICE_PORT`. Clients read `TZ_URL` and `TZ_TOKEN`.
"""


def classes() -> list[type]:
    from training_zoo.magics import TzMagics
    from training_zoo.server import TzForwarder
    from training_zoo.service.app import TzService

    return [TzService, *TzService.classes, TzForwarder, TzMagics]


def default_repr(cls: type, name: str, trait) -> str:  # type: ignore[no-untyped-def]
    value = trait.default_value
    dynamic = any(name in getattr(k, "_trait_default_generators", {}) for k in cls.__mro__)
    if dynamic or value is Undefined or callable(value):
        return "computed at start (see help)"
    return f"`{value!r}`"


def render() -> str:
    out = [HEADER]
    for cls in classes():
        out.append(f"\n## {cls.__name__}\n")
        doc = inspect.getdoc(cls) or ""
        if doc:
            out.append(doc.split("\n\n")[0] + "\n")
        for name, trait in sorted(cls.class_own_traits(config=True).items()):
            help_text = inspect.cleandoc(trait.help or "(no help)")
            out.append(f"\n### `c.{cls.__name__}.{name}`\n")
            out.append(f"*{type(trait).__name__}*, default {default_repr(cls, name, trait)}\n")
            out.append(f"\n{help_text}\n")
    return "".join(out)


if __name__ == "__main__":
    target = Path(__file__).with_name("configuration.md")
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if target.read_text() == text else 1)
    target.write_text(text)

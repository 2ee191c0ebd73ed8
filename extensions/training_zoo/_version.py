"""The single version source; labextension/package.json must match (checked in tests)."""

__version__ = "0.1.0"

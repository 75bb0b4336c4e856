"""Fault tests run real cmsync syncs on the end-to-end world of ``tests/sync``."""

from tests.sync.conftest import embedded, world

__all__ = ["embedded", "world"]

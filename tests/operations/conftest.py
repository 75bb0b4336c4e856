"""The tools the operations tests run: found on PATH, or the tests that need one are skipped, saying which."""

import shutil

import pytest


def _require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed; on Debian: apt-get install {package} (make test installs it as root)")
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return _require("promtool", "prometheus")


@pytest.fixture(scope="session")
def systemd_analyze() -> str:
    return _require("systemd-analyze", "systemd")

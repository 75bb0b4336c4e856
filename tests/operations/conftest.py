"""The tools the operations tests run: found on PATH, or the run stops with one line saying which."""

import shutil

import pytest


def _require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.exit(f"{tool} is not installed; on Debian: apt-get install {package} (see README, Development)", 3)
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return _require("promtool", "prometheus")


@pytest.fixture(scope="session")
def systemd_analyze() -> str:
    return _require("systemd-analyze", "systemd")

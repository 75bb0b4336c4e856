"""The sandbox is the ``sandbox`` extra and never in the container image: cmsync installed from what the
Dockerfile copies has no ``cmsync_sandbox``, its runtime dependencies leave out the sandbox's libraries, and
each command that starts the emulators says in one line how to install them.

Fast and offline: wheels are built without build isolation and installed without dependencies into a fresh
virtual environment, which then borrows the libraries of the one running the tests."""

import email.parser
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY
from tests.operations.dockerfile import Stage, build, read_stages

SANDBOX_LIBRARIES = {"trustme", "cheroot"}
INSTALL_HINT = "pip install -e '.[sandbox]'"


@dataclass(frozen=True)
class Installed:
    """cmsync built from a source tree and installed into a virtual environment of its own."""

    wheel: Path
    prefix: Path

    @property
    def site_packages(self) -> Path:
        prefix = str(self.prefix)
        return Path(sysconfig.get_path("purelib", "venv", vars={"base": prefix, "platbase": prefix}))


def pip(*arguments: str) -> None:
    """This environment's pip, offline: every package it needs is at hand."""
    done = subprocess.run([sys.executable, "-m", "pip", *arguments, "--quiet", "--no-deps", "--no-index"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr


def build_wheel(source: Path, into: Path) -> Path:
    pip("wheel", "--no-build-isolation", "--wheel-dir", str(into), str(source))
    (wheel,) = into.glob("cmsync-*.whl")
    return wheel


def install(wheel: Path, prefix: Path) -> Installed:
    """Install ``wheel`` alone into a new virtual environment, then let it import this one's libraries (the
    runtime dependencies) after its own site-packages; the editable install here stays inactive there."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True, timeout=60)
    pip("--python", str(prefix / "bin" / "python"), "install", str(wheel))
    installed = Installed(wheel, prefix)
    (installed.site_packages / "borrowed-libraries.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return installed


def requirements(wheel: Path) -> list[str]:
    """The wheel's ``Requires-Dist`` lines, as its package metadata lists them."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(metadata).decode()).get_all("Requires-Dist") or []


def runtime_requirements(wheel: Path) -> set[str]:
    """The distributions installing cmsync brings without an extra."""
    return {line.split(";")[0].split("[")[0].split(">")[0].strip() for line in requirements(wheel) if ";" not in line}


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """cmsync installed from the files the Dockerfile's build stage copies, as its ``pip install .`` does."""
    build_stage = read_stages(REPOSITORY / "Dockerfile")[0]
    root = tmp_path_factory.mktemp("image")
    prefix = root / "opt" / "cmsync"
    copies = Stage(build_stage.name, [step for step in build_stage.instructions if step[0] != "RUN"])
    build(copies, REPOSITORY, root, prefix)
    source = root / build_stage.all("WORKDIR")[-1].lstrip("/")
    return install(build_wheel(source, root / "dist"), prefix)


@pytest.fixture(scope="module")
def checkout_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the whole checkout, as ``pip install '.[sandbox]'`` (or without the extra) builds it."""
    source = tmp_path_factory.mktemp("checkout")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPOSITORY / name, source / name)
    for package in ("cmsync", "cmsync_sandbox"):
        shutil.copytree(REPOSITORY / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    return build_wheel(source, source / "dist")


def test_the_image_has_no_sandbox_and_no_sandbox_libraries(image: Installed) -> None:
    (metadata,) = image.site_packages.glob("cmsync-*.dist-info")
    record = (metadata / "RECORD").read_text()
    assert "cmsync/protocols/pubsub/pubsub_api_pb2_grpc.py" in record
    assert "cmsync_sandbox" not in record
    assert runtime_requirements(image.wheel) & SANDBOX_LIBRARIES == set()
    missing = subprocess.run([str(image.prefix / "bin" / "python"), "-I", "-c", "import cmsync_sandbox"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "ModuleNotFoundError: No module named 'cmsync_sandbox'" in missing.stderr


@pytest.mark.parametrize("command", [["run", "--sandbox"], ["sandbox"]])
def test_starting_the_emulators_without_the_sandbox_says_how_to_install_it(
    image: Installed, command: list[str], tmp_path: Path
) -> None:
    started = subprocess.run([str(image.prefix / "bin" / "cmsync"), *command, "--config",
                              str(REPOSITORY / "config" / "sandbox.yaml")], cwd=tmp_path, capture_output=True,
                             text=True, timeout=30)  # fmt: skip
    assert started.returncode == 1, started.stderr
    assert started.stdout == ""
    assert started.stderr.splitlines() == [
        f"cmsync {command[0]}: the sandbox is not installed here (no module named 'cmsync_sandbox'); "
        f"install it from a cmsync checkout: {INSTALL_HINT}"
    ]


def test_the_checkout_wheel_carries_the_sandbox_and_its_extra_brings_its_libraries(checkout_wheel: Path) -> None:
    with zipfile.ZipFile(checkout_wheel) as archive:
        assert "cmsync_sandbox/launcher.py" in archive.namelist()
    assert runtime_requirements(checkout_wheel) & SANDBOX_LIBRARIES == set()
    from_the_extra = {line.split(">")[0] for line in requirements(checkout_wheel) if 'extra == "sandbox"' in line}
    assert from_the_extra == SANDBOX_LIBRARIES


def test_without_the_libraries_of_the_extra_the_sandbox_command_says_how_to_install_them(tmp_path: Path) -> None:
    """The checkout's wheel installed without ``[sandbox]``: its code is there, cheroot is not."""
    without_cheroot = "import sys; sys.modules['cheroot'] = None; from cmsync.cli.main import main; sys.exit(main())"
    started = subprocess.run([sys.executable, "-I", "-c", without_cheroot, "sandbox", "--cm-port", "0", "--sf-port",
                              "0"], cwd=tmp_path, capture_output=True, text=True, timeout=30)  # fmt: skip
    assert started.returncode == 1, started.stderr
    (line,) = started.stderr.splitlines()
    assert line.startswith("cmsync sandbox: the sandbox is not installed here (no module named 'cheroot")
    assert line.endswith(INSTALL_HINT)

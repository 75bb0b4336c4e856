"""The Dockerfile read as ``docker build`` reads it, and its build stage performed on this host (there is no
container system here): ``WORKDIR`` under a root directory, ``COPY`` from the context, ``RUN`` in a shell."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Stage:
    """One ``FROM`` of the Dockerfile and its instructions, in order."""

    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arguments for found, arguments in self.instructions if found == keyword]

    def exec_form(self, keyword: str) -> list[str]:
        """An instruction written as a JSON array (``ENTRYPOINT ["cmsync"]``)."""
        return list(json.loads(self.all(keyword)[-1]))


def read_stages(dockerfile: Path) -> list[Stage]:
    stages: list[Stage] = []
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arguments = line.partition(" ")
        if keyword == "FROM":
            words = arguments.split()
            stages.append(Stage(words[2] if len(words) == 3 and words[1].upper() == "AS" else None))
        elif stages:
            stages[-1].instructions.append((keyword, arguments.strip()))
    return stages


def build(stage: Stage, context: Path, root: Path, prefix: Path) -> None:
    """Perform the build stage: ``WORKDIR`` under ``root``, ``COPY`` from the context, ``RUN`` in a shell."""
    variables = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PREFIX": str(prefix)}
    workdir = root
    for keyword, arguments in stage.instructions:
        if keyword == "WORKDIR":
            workdir = root / arguments.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            *sources, destination = shlex.split(arguments)
            target = workdir / destination
            for source in sources:
                copied = context / source
                if copied.is_dir():
                    shutil.copytree(copied, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(copied, target / copied.name if destination.endswith("/") else target)
        elif keyword == "RUN":
            done = subprocess.run(["/bin/sh", "-c", arguments], cwd=workdir, env=variables, capture_output=True,
                                  text=True, timeout=600)  # fmt: skip
            assert done.returncode == 0, f"RUN {arguments}\n{done.stdout}\n{done.stderr}"

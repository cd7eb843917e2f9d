"""Print the pip requirements that pin the core and the named extras at their declared lower bounds.

``python ci/floors.py sqlite duckdb`` prints e.g. ``sqlalchemy[asyncio]==2.0.45 numpy==1.24 ...``: every
``name>=X`` of pyproject.toml as ``name==X``; a name bounded in several places takes the highest bound.
Requirements without a lower bound (``pytz``) and the self-references of meta extras are left to pip.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version


def floors(extras: list[str]) -> list[str]:
    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    pinned: dict[str, tuple[Version, str]] = {}
    for line in requirements:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name == canonicalize_name(project["name"]):
            continue
        bounds = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
        if not bounds:
            continue
        extras_part = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        bound = max(bounds)
        if name in pinned:
            previous, previous_extras = pinned[name]
            bound, extras_part = max(bound, previous), extras_part or previous_extras
        pinned[name] = (bound, extras_part)
    return [f"{name}{extras_part}=={bound}" for name, (bound, extras_part) in pinned.items()]


if __name__ == "__main__":
    print(" ".join(floors(sys.argv[1:])))

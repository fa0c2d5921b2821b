"""Print pip requirements that pin every dependency of pyproject.toml (and its dev extra)
at its floor: `name>=X` becomes `name==X`. The floor job of .ci/run installs with them.

    python3 .ci/floor_constraints.py          # the core's and the dev extra's pins
    python3 .ci/floor_constraints.py --core   # the core's, and pytest's and xdist's
"""

import re
import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml")
                        .read_text())["project"]
CORE_TESTING = ("pytest", "pytest-xdist")  # of the dev extra, what --core keeps
for requirement in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*>=\s*([^,;\s]+)", requirement.strip())
    if not match:
        sys.exit(f"{requirement!r}: every dependency needs a plain floor 'name>=version'")
    if sys.argv[1:] == ["--core"] and requirement not in project["dependencies"] \
            and match[1] not in CORE_TESTING:
        continue
    print(f"{match[1]}=={match[2]}")

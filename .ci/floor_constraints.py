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
dev = project["optional-dependencies"]["dev"]
if sys.argv[1:] == ["--core"]:  # the smoke subset needs only these
    dev = [r for r in dev if r.split(">=")[0].strip() in ("pytest", "pytest-xdist")]
for requirement in [*project["dependencies"], *dev]:
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*>=\s*([^,;\s]+)", requirement.strip())
    if not match:
        sys.exit(f"{requirement!r}: every dependency needs a plain floor 'name>=version'")
    print(f"{match[1]}=={match[2]}")

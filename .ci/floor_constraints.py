"""Print pip constraints that pin every dependency of pyproject.toml (and its dev extra) at
its floor: `name>=X` becomes `name==X`. The floor job of .ci/run installs with them."""

import re
import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml")
                        .read_text())["project"]
for requirement in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*>=\s*([^,;\s]+)", requirement.strip())
    if not match:
        sys.exit(f"{requirement!r}: every dependency needs a plain floor 'name>=version'")
    print(f"{match[1]}=={match[2]}")

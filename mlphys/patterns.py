"""Wildcard matching of registry names, as in timm's `list_models("resnet*")`."""

import fnmatch


def matching(names, pattern=None):
    """The sorted names that match the shell-style `pattern` (all of them if it is empty)."""
    names = sorted(names)
    if not pattern:
        return names
    if not any(c in pattern for c in "*?["):
        pattern = f"*{pattern}*"
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]

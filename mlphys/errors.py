"""The one exception type for mistakes a user can fix.

The engine raises `UserError` for an unknown name, a bad file, an incompatible model and
dataset or a bad option; the command line prints its message as one line and exits with
status 2. Anything else is a bug or an environment failure and keeps its traceback.
"""

import difflib


class UserError(Exception):
    """A mistake the user can fix; the message says what was wrong and what to do."""


def unknown_name(kind, name, known, hint):
    """A `UserError` for an unknown `name` of `kind`, suggesting the closest known names."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    suggestion = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    return UserError(f"unknown {kind} '{name}': {suggestion}{hint}")


class Interrupted(Exception):
    """Training stopped by Ctrl-C; the message says how to continue. The CLI exits 130."""

"""No half-written output folder after a user error.

    from mlphys.cleanup import discarded_unless_started
    with discarded_unless_started(tuning_dir, "search"):
        ...   # a UserError raised here removes tuning_dir if tuning_dir/search never appeared

A command that makes its output folder before it has checked everything (`tune` writes
`tune.json` before it loads the data) would otherwise leave a folder that looks like a
search but holds none. The folder is removed only if the marker of real work is absent,
so nothing a run has produced is ever deleted.
"""

import contextlib
import shutil
from pathlib import Path

from mlphys.errors import UserError


@contextlib.contextmanager
def discarded_unless_started(folder, marker):
    """Remove `folder` (made by the caller) on a `UserError` if `folder/marker` is absent.

    folder: None does nothing (e.g. a distributed search's shared folder).
    """
    try:
        yield
    except UserError:
        if folder is not None and not (Path(folder) / marker).exists():
            shutil.rmtree(folder, ignore_errors=True)
        raise

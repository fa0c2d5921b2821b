"""The optional readers' libraries, imported when a file of their format is read.

    uproot = optional("uproot", "root", ".root files")

A missing one is one line: `Error: reading .root files needs uproot: pip install
'mlphys[root]'`.
"""

import importlib

from mlphys.errors import UserError


def optional(module, extra, what):
    """The imported `module`, or a UserError saying which extra of mlphys installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"reading {what} needs {module.split('.')[0]}, which is not "
                        f"installed: pip install 'mlphys[{extra}]'") from None

"""Finding registry entries: the bundled package first, then installed plugins."""

import importlib

_imported = set()


def import_with_plugins(package, group):
    """Import `package` (its modules register entries) and every installed entry point of
    the group `group` (other packages' entries), once per process."""
    if group in _imported:
        return
    _imported.add(group)
    importlib.import_module(package)
    from importlib.metadata import entry_points

    for entry_point in entry_points(group=group):
        entry_point.load()

"""ROOT TTrees, read with uproot, no ROOT installation needed (`pip install 'mlphys[root]'`).

    mlphys train mlp -d events.root -o tree=Events --target label
    mlphys train mlp -d events.root -o features='pt_*,eta_*' -o cut='nMuon == 2' \\
        --target is_signal
    mlphys train mlp -d events.root -o features='jet_pt,met' -o pad=4 --target label
    mlphys info events.root [-o tree=Events]     # trees, or one tree's branches

One entry is one sample; each chosen branch with one number per entry is a feature
column. `tree` may be left out when the file has one tree. `cut` is a selection in
uproot's expression language (`nMuon == 2`, `(pt_1 > 20) & (abs(eta_1) < 2.4)`); the
branches it names need not be features. Jagged branches (a variable number of values
per entry) are refused by name unless `pad=N`, which keeps their first N values per entry
and fills missing ones with 0 (columns `jet_pt[0]` ... `jet_pt[N-1]`). A string or
boolean target is a class label.
"""

from mlphys.data._optional import optional
from mlphys.data.tables import choose_columns, table_dataset
from mlphys.datasets import FileContents, register_file_format
from mlphys.errors import UserError

TREE_CLASSES = ("TTree", "TNtuple", "TNtupleD")


def _uproot():
    return optional("uproot", "root", ".root files")


def _damaged(path, error):
    return UserError(f"cannot read '{path}' as a ROOT file ({' '.join(str(error).split())[:160]}); "
                     "write it with ROOT or uproot (uproot.recreate(path).mktree(...))")


def open_tree(path, tree=None):
    """(the TTree called `tree`, its name); the only tree of the file when `tree` is None."""
    uproot = _uproot()
    try:
        handle = uproot.open(path)
        trees = list(dict.fromkeys(
            name.split(";")[0] for name, cls in handle.classnames().items()
            if cls in TREE_CLASSES))
    except (OSError, ValueError, uproot.deserialization.DeserializationError) as error:
        raise _damaged(path, error) from None
    if not trees:
        raise UserError(f"'{path}' holds no TTree (it has: "
                        f"{', '.join(handle.keys(cycle=False)) or 'nothing'})")
    if tree is None:
        if len(trees) > 1:
            raise UserError(f"'{path}' has {len(trees)} trees: choose one with -o tree=NAME "
                            f"({', '.join(trees)})")
        tree = trees[0]
    if tree not in trees:
        raise UserError(f"--option tree={tree}: '{path}' has no such tree (it has: "
                        f"{', '.join(trees)})")
    return handle[tree], tree


def is_flat(branch):
    """One number (or string) per entry: a column; otherwise jagged or an object."""
    interpretation = _uproot().interpretation
    return isinstance(branch.interpretation, (interpretation.numerical.AsDtype,
                                              interpretation.strings.AsStrings)) and (
        branch.interpretation.inner_shape == () if hasattr(branch.interpretation,
                                                           "inner_shape") else True)


def describe(path, tree: str | None = None):
    """The file's trees (entries, branches), or with `tree` that tree's branches."""
    uproot = _uproot()
    if tree is None:
        try:
            handle = uproot.open(path)
            trees = {n.split(";")[0]: handle[n] for n, c in handle.classnames().items()
                     if c in TREE_CLASSES}
        except (OSError, ValueError, uproot.deserialization.DeserializationError) as error:
            raise _damaged(path, error) from None
        if len(trees) != 1:
            rows = [(n, f"{t.num_entries:,}", len(t.keys())) for n, t in trees.items()]
            return FileContents(f"{path}: ROOT, {len(rows)} tree(s); -o tree=NAME lists "
                                "one's branches", ("tree", "entries", "branches"), rows)
    found, tree = open_tree(path, tree)
    rows = [(b.name, b.typename, "yes" if is_flat(b) else "jagged (-o pad=N)", b.title)
            for b in found.branches]
    return FileContents(f"{path}: tree {tree}, {found.num_entries:,} entries, "
                        f"{len(rows)} branches", ("branch", "type", "column", "title"), rows)


def _padded(path, found, names, cut, pad):
    """{"name[i]": column} of the jagged branches `names`, first `pad` values, 0-filled."""
    import awkward as ak

    values = found.arrays(names, cut=cut, library="ak")
    columns = {}
    for name in names:
        try:
            block = ak.to_numpy(ak.fill_none(ak.pad_none(values[name], pad, clip=True), 0))
        except (ValueError, TypeError):
            raise UserError(f"'{path}': branch {name} is not a list of numbers per entry, "
                            "so -o pad= cannot make it columns; leave it out with -o "
                            "features=...") from None
        if block.ndim != 2:
            raise UserError(f"'{path}': branch {name} has lists of lists per entry; leave "
                            "it out with -o features=...")
        columns.update({f"{name}[{i}]": block[:, i] for i in range(pad)})
    return columns


def read_branches(path, found, names, target, cut, pad):
    """{column: values} of the chosen branches after the cut, jagged ones padded; the
    `target` branch last (None: no target, as for `mlphys predict`)."""
    uproot = _uproot()
    chosen = [*names, target] if target is not None else list(names)
    jagged = [n for n in chosen if not is_flat(found[n])]
    if target is not None and target in jagged:
        raise UserError(f"'{path}': the target branch {target} has a variable number of "
                        "values per entry; choose a branch with one value per entry")
    if jagged and pad is None:
        raise UserError(f"'{path}': branch(es) {', '.join(jagged)} are jagged (a variable "
                        "number of values per entry): leave them out with -o features=..., "
                        "or keep the first N values with -o pad=N")
    if pad is not None and pad < 1:
        raise UserError(f"--option pad={pad}: give the number of values to keep, >= 1")
    flat = [n for n in chosen if n not in jagged]
    try:
        values = found.arrays(flat, cut=cut, library="np")
        padded = _padded(path, found, jagged, cut, pad) if jagged else {}
    except uproot.KeyInFileError as error:
        raise UserError(f"--option cut={cut}: no branch {error.key!r} in the tree") from None
    except (SyntaxError, NameError, TypeError) as error:
        raise UserError(f"--option cut={cut}: not an expression uproot can evaluate "
                        f"({str(error).splitlines()[0]}); e.g. -o cut='nMuon == 2'") from None
    except (OSError, ValueError, uproot.deserialization.DeserializationError) as error:
        raise _damaged(path, error) from None
    columns = {}
    for name in names:  # the features in file order, each jagged one as its N columns
        columns.update({k: v for k, v in padded.items() if k.startswith(name + "[")}
                       if name in jagged else {name: values[name]})
    if target is not None:
        columns[target] = values[target]
    return columns


@register_file_format(".root", describe=describe)
def root_file(path, tree: str | None = None, target: str | None = None,
              features: str | None = None, cut: str | None = None, pad: int | None = None,
              task: str = "auto", test_split: float = 0.2, split_seed: int = 0):
    """A TTree: one entry per sample, branches as columns; `target` is the label branch
    (default: the last), `features` names or wildcards (default: all others), `cut` a
    selection, `pad=N` keeps N values of jagged branches."""
    found, tree = open_tree(path, tree)
    names, target = choose_columns(path, found.keys(), target, features)
    columns = read_branches(path, found, names, target, cut, pad)
    if len(columns[target]) < 2:
        raise UserError(f"'{path}': {len(columns[target])} entries of tree {tree} pass "
                        f"the cut '{cut}'; loosen it")
    provenance = {"tree": tree, "cut": cut, "pad": pad}
    return table_dataset(path, columns, target, task, test_split, split_seed,
                         {k: v for k, v in provenance.items() if v is not None})

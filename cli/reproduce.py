"""`mlphys reproduce NAME|--all [--quick]`: run the zoo's checks against the courses."""

import click

from mlphys.cli import options, output

COLUMNS = ["entry", "check", "expected", "obtained", "result", "seconds"]


@click.command()
@click.argument("names", nargs=-1, shell_complete=options.complete_models)
@click.option("--all", "run_all", is_flag=True, help="Check every entry of the zoo.")
@click.option("--quick", is_flag=True, help="Only the fast checks: parameter counts, "
              "hand-set weights, short trainings (a few minutes for the whole zoo).")
@click.option("--list", "list_only", is_flag=True, help="List the checks without running them.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the table as CSV.")
@click.option("--keep", metavar="DIR", type=click.Path(file_okay=False),
              help="Keep the checks' training runs in DIR (default: a temporary folder, "
              "removed afterwards).")
@options.data_dir
@options.models_from
@options.figure_format
@options.json_output
def reproduce(names, run_all, quick, list_only, as_csv, keep, data_dir, models_from,
              figure_formats, as_json):
    """Check zoo entries NAMES against the numbers of their courses (ZOO.md).

    Prints one row per check (entry, check, expected, obtained, result, seconds); exits
    with status 1 if any check fails. A check that cannot run offline says so and is not
    counted as passed.

    \b
      mlphys reproduce xor logic_gate
      mlphys reproduce --all --quick
      mlphys reproduce --all --csv > reproduce.csv
    """
    from mlphys.registry import load_plugin
    from mlphys.reproduce import checks_of, run_checks, select, totals

    load_plugin(models_from)
    if as_json and as_csv:
        from mlphys.errors import UserError

        raise UserError("choose one of --json and --csv")
    models = select(names, run_all or (list_only and not names))
    if list_only:
        rows = [(c.model, c.name, c.expected, "quick" if c.quick else "full")
                for m in models for c in checks_of(m, quick)]
        output.table(rows, ["entry", "check", "expected", "run by"])
        return

    def live(row):  # each row as it is done (on stderr), then the table at the end
        click.echo(f"{row['result']:>7}  {row['entry']}: {row['check']} -> "
                   f"{row['obtained']} ({row['seconds']:.1f} s)", err=True)

    from mlphys import figures

    with figures.formats(figure_formats):  # the figures of the checks (kept with --keep)
        rows = run_checks(models, quick=quick, data_dir=data_dir, keep=keep, on_row=live)
    count = totals(rows)
    if as_json:
        output.as_json({"rows": rows, "totals": count})
    elif as_csv:
        import csv
        import sys

        writer = csv.DictWriter(sys.stdout, [*COLUMNS, "note"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        click.echo()
        output.table([[r[c] if c != "seconds" else f"{r[c]:.1f}" for c in COLUMNS]
                      for r in rows], COLUMNS)
        for r in rows:
            if r["note"]:
                click.echo(f"note: {r['entry']}: {r['check']}: {r['note']}")
        click.echo(f"\n{count['pass']} passed, {count['fail']} failed, {count['offline']} "
                   f"not runnable offline, {count['error']} errors "
                   f"({sum(r['seconds'] for r in rows):.0f} s)")
    if count["fail"] or count["error"]:
        raise SystemExit(1)

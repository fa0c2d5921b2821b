"""Plain-text tables and JSON for the commands' output."""

import json

import click


def table(rows, headers):
    """Print rows as aligned columns under `headers`."""
    rows = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    line = "  ".join(f"{h:<{w}}" for h, w in zip(headers, widths))
    click.echo(line.rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in rows:
        click.echo("  ".join(f"{v:<{w}}" for v, w in zip(row, widths)).rstrip())


def fields(pairs):
    """Print `name: value` lines with the values aligned."""
    width = max(len(name) for name, _ in pairs)
    for name, value in pairs:
        click.echo(f"{name + ':':<{width + 2}}{'' if value is None else value}")


def markdown(rows, headers):
    """Print rows as a Markdown table (used to generate the README's lists)."""
    click.echo("| " + " | ".join(headers) + " |")
    click.echo("|" + "---|" * len(headers))
    for row in rows:
        click.echo("| " + " | ".join("" if v is None else str(v) for v in row) + " |")


def as_json(content):
    click.echo(json.dumps(content, indent=2))


def metrics_table(metrics):
    table([(k, f"{v:.4f}" if isinstance(v, float) else v) for k, v in metrics.items()],
          ["metric", "value"])

"""
The ``site_status`` outputter: the table of ``salt-run site.status``.

``site.status`` returns its data with this outputter named; ``--out=json``
(or any other ``--out``) shows the data itself instead. Synced to the
master by ``salt-run saltutil.sync_all`` with the runners.
"""

COLUMNS = ("component", "item", "state", "detail")


def render(data):
    """The table (text) for ``site.status`` data (pure)."""
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        return str(data)
    rows = [[str(row.get(column, "")) for column in COLUMNS] for row in data["rows"]]
    header = [column.upper() for column in COLUMNS]
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(COLUMNS) - 1)]
    lines = [f"site {data.get('site') or '?'}: {str(data.get('status', '?')).upper()}", ""]
    for line in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(line, widths)]
        lines.append("  ".join([*cells, line[-1]]).rstrip())
    problems = data.get("problems") or []
    if problems:
        lines += ["", f"{len(problems)} problem(s):"]
        lines += [f"  - {problem}" for problem in problems]
    return "\n".join(lines)


def output(data, **kwargs):  # pylint: disable=unused-argument
    """Print ``site.status`` data as a table."""
    return render(data)

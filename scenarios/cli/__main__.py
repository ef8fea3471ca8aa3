"""`python -m scenarios.cli`: the `simlab` command without its console script."""

from scenarios.cli import app

app(prog_name="simlab")

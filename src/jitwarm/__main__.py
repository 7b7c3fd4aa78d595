"""``python -m jitwarm``: the CLI, where the ``jitwarm`` script is not on PATH."""

from jitwarm.cli import main

main()

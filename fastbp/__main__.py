"""``python -m fastbp``: the ``fastbp`` command."""

from .cli import main

raise SystemExit(main())

"""``python -m s2i`` runs the command line."""

from .cli import main

raise SystemExit(main())

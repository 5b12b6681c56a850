"""``python -m matcalc``: the command line."""
from .apps.cli import main

raise SystemExit(main())

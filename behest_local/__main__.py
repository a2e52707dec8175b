"""``python -m behest_local``: the same entry point as the ``behest-local`` script."""

from behest_local.cli.main import main

raise SystemExit(main())

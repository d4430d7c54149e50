"""``python -m mitheory`` is the same as the ``mitheory`` command."""

from mitheory.cli import main

raise SystemExit(main())

"""``python -m kyudoctor``: the same command line as the ``kyudoctor`` script."""

from __future__ import annotations

from kyudoctor.cli import main

raise SystemExit(main())

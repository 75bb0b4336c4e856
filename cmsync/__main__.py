"""``python -m cmsync`` is the ``cmsync`` command."""

import sys

from cmsync.daemon.cli import main

sys.exit(main())

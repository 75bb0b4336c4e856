"""``python -m cmsync`` is the ``cmsync`` command."""

import sys

from cmsync.cli.main import main

sys.exit(main())

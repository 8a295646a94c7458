"""``python -m idx_client`` is the ``idx`` command."""

import sys

from idx_client.cli import main

sys.exit(main())

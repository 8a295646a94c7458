import sys

from idx_server.cli import main

sys.exit(main())

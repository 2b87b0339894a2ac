"""``python -m pyqueue_client``: the ``pyqueue`` command line (see :mod:`pyqueue_client.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

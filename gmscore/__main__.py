"""``python -m gmscore ...``: the command line of gmscore.cli."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

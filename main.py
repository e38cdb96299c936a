"""Start the leafcount desktop app: ``python main.py [FOLDER]``."""

import sys

from leafcount.gui.app import main

if __name__ == "__main__":
    sys.exit(main())

"""Entry point of the frozen application (PyInstaller runs this file)."""

import sys

from lossviewer.cli import main

if __name__ == "__main__":
    sys.exit(main())

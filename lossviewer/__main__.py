import sys

from lossviewer.cli import main

sys.exit(main())

import sys

from keigov.cli import main

sys.exit(main())

import sys

from neurot.cli import main

sys.exit(main())

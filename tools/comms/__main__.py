import sys

from tools.comms.cli import main

sys.exit(main())

import sys

from jqgate.cli import main

sys.exit(main())

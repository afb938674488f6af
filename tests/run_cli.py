"""`rag` with the test fakes registered: tests run it as a subprocess to crash, kill and interrupt it."""

import sys

from rag.cli.main import main
from tests import fakes

fakes.register()
sys.exit(main())

"""`python -m lmlab.cli` (what torchrun starts): the same as the `lmlab` command."""

import sys

from lmlab.cli import main

sys.exit(main())

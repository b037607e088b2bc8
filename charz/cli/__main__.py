"""``python -m charz.cli``: the ``charz`` command line (:func:`charz.cli.main`)."""

import sys

from . import main

sys.exit(main())

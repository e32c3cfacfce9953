"""``python -m napari_colorquant``: the command line (see :mod:`napari_colorquant.cli`)."""

import sys

from .cli import main

sys.exit(main())

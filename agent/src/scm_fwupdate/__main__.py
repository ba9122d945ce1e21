"""``python3 -m scm_fwupdate``: the same as the ``scm-fwupdate`` command."""

import sys

from .cli import main

sys.exit(main())

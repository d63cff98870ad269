"""``python -m convnext_lesson``: the command line (``cli``)."""
import sys

from .cli import main

sys.exit(main())

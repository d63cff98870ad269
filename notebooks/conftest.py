"""nbval runs every notebook under the ``smoke`` profile unless told otherwise (the kernels inherit it)."""
import os

os.environ.setdefault("CONVNEXT_LESSON_PROFILE", "smoke")

"""nbval runs every notebook under the ``smoke`` profile (the kernels inherit this environment),
with its training runs in a fresh temporary folder so that every test run trains for real."""
import os
import tempfile

os.environ.setdefault("CONVNEXT_LESSON_PROFILE", "smoke")
os.environ.setdefault("CONVNEXT_LESSON_RUNS", tempfile.mkdtemp(prefix="convnext-lesson-runs-"))

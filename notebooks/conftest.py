"""nbval runs every notebook under the ``smoke`` profile (the kernels inherit this environment),
with its training runs in a fresh temporary folder so that every test run trains for real;
the folder is removed when the test session ends."""
import os
import shutil
import tempfile

os.environ.setdefault("CONVNEXT_LESSON_PROFILE", "smoke")
_RUNS = None  # the temporary runs folder this session made (None: $CONVNEXT_LESSON_RUNS was set already)
if "CONVNEXT_LESSON_RUNS" not in os.environ:
    _RUNS = tempfile.mkdtemp(prefix="convnext-lesson-runs-")
    os.environ["CONVNEXT_LESSON_RUNS"] = _RUNS


def pytest_sessionfinish(session, exitstatus):
    if _RUNS is not None:
        shutil.rmtree(_RUNS, ignore_errors=True)

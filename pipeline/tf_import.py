"""TensorFlow, imported on first use and quietly.

TensorFlow's C++ runtime writes start-up lines (oneDNN, absl) straight to the
process's file descriptor 2 while it loads; ``TF_CPP_MIN_LOG_LEVEL`` does not
silence all of them. :func:`import_tensorflow` keeps them out of the terminal
(and shows them if the import fails).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path


@contextlib.contextmanager
def captured_stderr(path: Path):
    """Redirect the process's fd 2 (C++ logging included) into the file ``path``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "wb") as f:
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow():
    """The ``tensorflow`` module (and Keras loaded), without TensorFlow's start-up lines on stderr."""
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "tensorflow.log"
        try:
            with captured_stderr(log):
                import keras  # noqa: F401  (loads TensorFlow's backend too)
                import tensorflow
        except BaseException:
            sys.stderr.write(log.read_text(errors="replace"))
            raise
    # Python-side warnings (e.g. retracing when out-of-fold calibration fits a model per fold) are not errors.
    tensorflow.get_logger().setLevel("ERROR")
    return tensorflow

"""Keras autoencoder -> float and full-integer int8 TensorFlow Lite models."""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from errors import FaultsynthError
from pipeline.int8_graph import standardise


def _keras_model(detector):
    model = getattr(detector, "model_", None)
    if model is None:
        raise FaultsynthError("the autoencoder detector has no fitted Keras model (model_)")
    return model


def convert_autoencoder(detector, representative: np.ndarray) -> tuple[bytes, bytes]:
    """Float and full-integer int8 .tflite of a fitted autoencoder.

    Parameters
    ----------
    detector : AutoencoderDetector
        With ``mean_``, ``scale_`` and ``model_`` (standardised x -> reconstruction).
    representative : ndarray, shape (n, dim), float32
        Raw training feature vectors (standardised here for calibration).

    Returns
    -------
    (float_bytes, int8_bytes)
    """
    from pipeline.tf_import import captured_stderr, import_tensorflow

    tf = import_tensorflow()

    model = _keras_model(detector)
    z = standardise(detector, representative)

    def rep():
        for row in z[:1000]:
            yield [row[None, :]]

    # The converter prints the traced signature (Python stdout), its calibration settings (C++, fd 2) and asks
    # for input statistics the representative dataset already gives (UserWarning): shown only on failure.
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "converter.log"
        try:
            with contextlib.redirect_stdout(io.StringIO()), captured_stderr(log), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
                float_bytes = tf.lite.TFLiteConverter.from_keras_model(model).convert()
                conv = tf.lite.TFLiteConverter.from_keras_model(model)
                conv.optimizations = [tf.lite.Optimize.DEFAULT]
                conv.representative_dataset = rep
                conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
                conv.inference_input_type = tf.int8
                conv.inference_output_type = tf.int8
                int8_bytes = conv.convert()
        except BaseException:
            sys.stderr.write(log.read_text(errors="replace"))
            raise
    return bytes(float_bytes), bytes(int8_bytes)

"""Framing and analysis windows shared by the feature front ends.

Both :mod:`pipeline.features` (log-mel) and :mod:`pipeline.vibration_features`
cut a signal into frames of ``n_fft`` samples every ``hop_length`` samples
(zero-padded by ``n_fft // 2`` on both sides when ``center``, as librosa) and
weight each frame by the periodic Hann window. This module depends on numpy
only, so either front end can import it without importing the other.
"""

from __future__ import annotations

import sys
from functools import lru_cache

import numpy as np

#: Added to powers before a logarithm (the DCASE 2020 baseline's sys.float_info.epsilon).
EPS = sys.float_info.epsilon


def frames(Y: np.ndarray, n_fft: int, hop_length: int, center: bool) -> np.ndarray:
    """Frames of equal-length clips, as a strided view (no copy unless padding).

    Parameters
    ----------
    Y : ndarray, shape (n_clips, n_samples)
        Clips (any dtype; kept).
    n_fft : int
        Frame length, samples.
    hop_length : int
        Samples between frame starts.
    center : bool
        Zero-pad ``n_fft // 2`` samples on both sides first (librosa's ``center=True``).

    Returns
    -------
    ndarray, shape (n_clips, n_frames, n_fft)
        Read-only view; ``n_frames = 1 + n_samples // hop_length`` with
        ``center``, else ``1 + (n_samples - n_fft) // hop_length`` (0 if shorter
        than one frame).
    """
    if center:
        pad = n_fft // 2
        Y = np.pad(Y, ((0, 0), (pad, pad)))
    return np.lib.stride_tricks.sliding_window_view(Y, n_fft, axis=-1)[:, ::hop_length]


@lru_cache(maxsize=32)
def window64(n_fft: int) -> np.ndarray:
    """The analysis window in float64: periodic Hann, ``0.5 - 0.5 cos(2 pi n / n_fft)``.

    Returns
    -------
    ndarray, shape (n_fft,), float64
        Cached and read-only.
    """
    n = np.arange(n_fft)
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / n_fft)
    w.setflags(write=False)
    return w


def window(n_fft: int) -> np.ndarray:
    """The analysis window: periodic Hann, ``0.5 - 0.5 cos(2 pi n / n_fft)``.

    Returns
    -------
    ndarray, shape (n_fft,), float32
    """
    return window64(int(n_fft)).astype(np.float32)

"""Reading the samples of one clip: WAV or CWRU .mat, channel selection, resampling.

Resampling uses python-soxr by default (``soxr.resample``, quality "HQ", as
librosa does: a linear-phase band-limited resampler that removes content above
the new Nyquist frequency; computed in float32). ``resample_method="polyphase"``
uses :func:`scipy.signal.resample_poly` instead (polyphase FIR, Kaiser window
with beta = 8.6, i.e. about 80 dB stop-band attenuation; up/down factors
reduced by their greatest common divisor), about 5x slower.

Every check raises :class:`errors.FaultsynthError` naming the file and what was
expected: truncated or corrupt WAV, NaN or Inf samples, a channel that does
not exist, an empty or all-zero file, a .mat without the expected variables,
a file whose sample rate or channel count differs from its record.
"""

from __future__ import annotations

import functools
import math
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np

from errors import FaultsynthError

if TYPE_CHECKING:  # pragma: no cover
    from datasets.records import ClipRecord

#: Channel selection: an index (or a CWRU channel name such as "DE"), "mean", or None (all).
Channel = Union[int, str, None]

#: Kaiser window of the polyphase anti-alias filter (beta 8.6: ~80 dB stop band).
RESAMPLE_WINDOW = ("kaiser", 8.6)
RESAMPLE_METHODS = ("soxr", "polyphase")
#: libsndfile subtypes read as integers and scaled here, with the factor libsndfile uses
#: (its own conversion to float is several times slower; x / 32768 is exact in float32).
_INTEGER_SUBTYPES = {"PCM_16": ("int16", np.float32(1 / 32768))}


def load_audio(record: "ClipRecord", *, channel: Channel = 0, sample_rate: int | None = None,
               resample_method: str = "soxr") -> np.ndarray:
    """Float32 samples of one record.

    Parameters
    ----------
    record : ClipRecord
        A record from :func:`datasets.loaders.load_records` (or a manifest).
    channel : int, str, "mean" or None
        Channel index to return; ``"mean"`` averages all channels; ``None``
        returns all channels. For CWRU records a channel name (``"DE"``,
        ``"FE"``, ``"BA"``) is accepted too; index order is
        ``record.params["channel_names"]``.
    sample_rate : int, optional
        Resample to this rate in Hz (see :func:`resample`).
    resample_method : {"soxr", "polyphase"}
        See :func:`resample`.

    Returns
    -------
    ndarray, float32
        Shape (n_samples,) for one channel or ``"mean"``; (n_samples,
        n_channels) for ``channel=None``. Units as stored (full scale for
        audio, g for CWRU acceleration).
    """
    file = record.file
    if file.suffix.lower() == ".mat":
        from datasets.load_cwru import read_mat_channels

        names = list(record.params.get("channel_names") or [])
        if not names:
            raise FaultsynthError(f"{file}: record has no params['channel_names']: expected a CWRU record "
                                  "from datasets.loaders.load_records")
        variables = list(record.params.get("variables") or []) or None
        if isinstance(channel, str) and channel != "mean":
            if channel not in names:
                raise FaultsynthError(f"{file}: no channel {channel!r}: expected one of {names}")
            channel = names.index(channel)
        if isinstance(channel, (int, np.integer)) and not isinstance(channel, bool) and 0 <= channel < len(names):
            # read only the selected variable
            names = [names[channel]]
            variables = [variables[channel]] if variables else None
            channel = 0
        data = read_mat_channels(file, names=names, variables=variables)
        rate = int(record.sample_rate)
    else:
        data, rate = _read_wav(file)
        if rate != record.sample_rate:
            raise FaultsynthError(f"{file}: sample rate {rate} Hz, but its record says {record.sample_rate} Hz")
        if data.shape[1] != record.channels:
            raise FaultsynthError(f"{file}: {data.shape[1]} channels, but its record says {record.channels}")
    return _finish(data, rate, file=file, channel=channel, sample_rate=sample_rate, method=resample_method)


def load_wav(path: str | Path, *, channel: Channel = 0, sample_rate: int | None = None,
             expected_sample_rate: int | None = None,
             resample_method: str = "soxr") -> tuple[np.ndarray, int]:
    """Float32 samples of a bare WAV (or any libsndfile-readable) file.

    Parameters
    ----------
    path : str or Path
    channel : int, "mean" or None
        As in :func:`load_audio`.
    sample_rate : int, optional
        Resample to this rate in Hz.
    expected_sample_rate : int, optional
        Raise if the file's own rate differs (checked before resampling).
    resample_method : {"soxr", "polyphase"}
        See :func:`resample`.

    Returns
    -------
    samples : ndarray, float32, shape (n_samples,) or (n_samples, n_channels)
    sample_rate : int
        Hz of the returned samples.
    """
    path = Path(path)
    data, rate = _read_wav(path)
    if expected_sample_rate is not None and rate != expected_sample_rate:
        raise FaultsynthError(f"{path}: sample rate {rate} Hz, expected {expected_sample_rate} Hz")
    out = _finish(data, rate, file=path, channel=channel, sample_rate=sample_rate, method=resample_method)
    return out, int(sample_rate or rate)


def resample(x: np.ndarray, *, from_rate: int, to_rate: int, method: str = "soxr") -> np.ndarray:
    """Resample along axis 0.

    Parameters
    ----------
    x : ndarray, shape (n_samples,) or (n_samples, n_channels)
    from_rate, to_rate : int
        Hz, positive whole numbers.
    method : {"soxr", "polyphase"}
        ``"soxr"``: the python-soxr "HQ" resampler (what librosa uses by
        default). ``"polyphase"``: :func:`scipy.signal.resample_poly` with a
        Kaiser (beta 8.6) windowed FIR of 20 * max(up, down) + 1 taps, up/down
        reduced by their gcd (about 5x slower).

    Returns
    -------
    ndarray, float32, shape (about n_samples * to_rate / from_rate, ...)
    """
    if not (isinstance(to_rate, (int, np.integer)) and to_rate > 0):
        raise FaultsynthError(f"target sample rate must be a positive whole number of Hz, got {to_rate!r}")
    if method not in RESAMPLE_METHODS:
        raise FaultsynthError(f"resampling method {method!r}: expected one of {', '.join(RESAMPLE_METHODS)}")
    x = np.asarray(x, dtype=np.float32)
    if from_rate == to_rate:
        return x
    if method == "soxr":
        import soxr

        return np.asarray(soxr.resample(x, int(from_rate), int(to_rate), quality="HQ"), dtype=np.float32)
    from scipy.signal import resample_poly

    g = math.gcd(int(from_rate), int(to_rate))
    up, down = int(to_rate) // g, int(from_rate) // g
    return resample_poly(x, up, down, axis=0, window=_antialias_fir(up, down))


@functools.lru_cache(maxsize=16)
def _antialias_fir(up: int, down: int) -> np.ndarray:
    """The FIR resample_poly would design for (up, down) with :data:`RESAMPLE_WINDOW`, cached."""
    from scipy.signal import firwin

    max_rate = max(up, down)
    half_len = 10 * max_rate
    h = firwin(2 * half_len + 1, 1.0 / max_rate, window=RESAMPLE_WINDOW)
    return h.astype(np.float32)  # resample_poly multiplies it by ``up`` itself


def check_wav_header(path: str | Path) -> None:
    """Raise if a RIFF/WAVE file declares more sample data than it holds (truncated).

    libsndfile silently shortens truncated files, so the ``data`` chunk size
    is compared with the bytes actually present. Non-RIFF files pass.
    """
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        offset = 12
        while offset + 8 <= size:
            handle.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", handle.read(8))
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):  # streaming writers: size unknown
                    return
                available = size - offset - 8
                if chunk_size > available:
                    raise FaultsynthError(
                        f"{path}: truncated WAV: header declares {chunk_size} bytes of samples, file holds "
                        f"{available}: expected a complete file")
                return
            offset += 8 + chunk_size + (chunk_size & 1)
    raise FaultsynthError(f"{path}: corrupt WAV: no 'data' chunk: expected a RIFF/WAVE file with samples")


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    """All channels of a sound file as float32 (n_samples, n_channels), and its rate."""
    import soundfile as sf

    if not path.is_file():
        raise FaultsynthError(f"{path}: no such file: expected an audio file")
    check_wav_header(path)
    try:
        with sf.SoundFile(str(path)) as handle:
            rate = handle.samplerate
            if handle.subtype in _INTEGER_SUBTYPES:
                dtype, scale = _INTEGER_SUBTYPES[handle.subtype]
                data = handle.read(dtype=dtype, always_2d=True).astype(np.float32)
                data *= scale
            else:
                data = handle.read(dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise FaultsynthError(f"{path}: unreadable audio ({exc}): expected a WAV file") from None
    return data, int(rate)


def _finish(data: np.ndarray, rate: int, *, file: Path, channel: Channel,
            sample_rate: int | None, method: str = "soxr") -> np.ndarray:
    """Validate samples (n, channels), select the channel, resample, return float32."""
    if data.shape[0] == 0:
        raise FaultsynthError(f"{file}: no samples: expected a non-empty recording")
    # min and max propagate NaN, and an Inf is an extreme: both are finite iff every sample is
    low, high = data.min(), data.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        raise FaultsynthError(f"{file}: contains NaN or Inf samples: expected finite samples")
    n_channels = data.shape[1]
    if channel is None:
        out = data
    elif isinstance(channel, str):
        if channel != "mean":
            raise FaultsynthError(f"{file}: channel {channel!r}: expected an index, 'mean' or None")
        out = _channel_mean(data)
    elif isinstance(channel, (int, np.integer)) and not isinstance(channel, bool):
        if not 0 <= channel < n_channels:
            raise FaultsynthError(f"{file}: no channel {channel}: expected 0..{n_channels - 1}")
        out = data[:, int(channel)]
    else:
        raise FaultsynthError(f"{file}: channel {channel!r}: expected an index, 'mean' or None")
    # when out holds every sample (one channel, or all), the extremes already tell whether all are zero
    silent = (low == 0 and high == 0) if out.size == data.size else not np.any(out)
    if silent:
        raise FaultsynthError(f"{file}: all samples are zero: expected a recording")
    if sample_rate is not None and int(sample_rate) != rate:
        out = resample(out, from_rate=rate, to_rate=int(sample_rate), method=method)
    return np.ascontiguousarray(out, dtype=np.float32)


def _channel_mean(data: np.ndarray) -> np.ndarray:
    """Sample-wise mean of the channels of (n_samples, n_channels) float32, accumulated in float64.

    Column by column: numpy's reduction along the short channel axis is several times slower.
    """
    total = data[:, 0].astype(np.float64)
    for column in range(1, data.shape[1]):
        total += data[:, column]
    total /= data.shape[1]
    return total.astype(np.float32)

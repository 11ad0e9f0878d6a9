"""Feature vectors of whole clips: feature-config resolution and batched extraction.

:func:`resolve_feature_config` turns a preset name (``pipeline.features.PRESETS``)
or a FeatureConfig JSON file into the config for data at a given sample rate.
:func:`clip_features` gives the feature vectors of dataset records, and
:func:`features_of_signals` those of signals already in memory; both batch
clips of equal shape through :func:`pipeline.features.extract_batch`, and give
exactly the vectors :func:`pipeline.features.extract` gives clip by clip.

``pipeline.features`` (numpy + scipy) is imported inside the functions, so
importing this module stays cheap for the CLI.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from datasets.records import ClipRecord
from errors import FaultsynthError

if TYPE_CHECKING:  # pragma: no cover
    from pipeline.features import FeatureConfig

#: Most clips stacked into one ``extract_batch`` call (bounds the memory of a batch).
BATCH_CLIPS = 32


# ---------------------------------------------------------------- feature configs

def feature_presets() -> dict[str, FeatureConfig]:
    """Preset name -> FeatureConfig (a copy of ``pipeline.features.PRESETS``)."""
    from pipeline.features import PRESETS

    return dict(PRESETS)


def resolve_feature_config(features: str, *, sample_rate: int,
                           overrides: Mapping[str, Any] | None = None) -> FeatureConfig:
    """The FeatureConfig named by ``features``, adapted to ``sample_rate``.

    Parameters
    ----------
    features : str
        A preset name (see ``pipeline.features.PRESETS``) or a path to a JSON
        file of ``FeatureConfig.to_dict()``.
    sample_rate : int
        Hz, of the training data. A preset is re-targeted to it (``fmax_hz``
        capped at Nyquist); a JSON config must already match it.
    overrides : mapping, optional
        FeatureConfig fields replaced after that (e.g. ``{"kind": "vibration", "n_mels": 16}``).

    Returns
    -------
    pipeline.features.FeatureConfig
    """
    from pipeline.features import FeatureConfig

    presets = feature_presets()
    if features in presets:
        config = presets[features]
        if int(config.sample_rate) != int(sample_rate):
            changes: dict[str, Any] = {"sample_rate": int(sample_rate)}
            fmax = getattr(config, "fmax_hz", None)
            if fmax is not None and fmax > sample_rate / 2:
                changes["fmax_hz"] = float(sample_rate) / 2
            config = replace(config, **changes)
        return _override(config, overrides)
    path = Path(features)
    if path.suffix != ".json" or not path.is_file():
        raise FaultsynthError(f"unknown features {features!r}: expected one of {', '.join(presets)} "
                              "or the path of a JSON file holding a FeatureConfig")
    try:
        config = FeatureConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError, KeyError) as exc:
        raise FaultsynthError(f"{path}: not a valid FeatureConfig JSON ({exc})") from None
    if int(config.sample_rate) != int(sample_rate):
        raise FaultsynthError(f"{path}: feature config expects {config.sample_rate} Hz audio, "
                              f"but the training data is sampled at {sample_rate} Hz")
    return _override(config, overrides)


def _override(config: FeatureConfig, overrides: Mapping[str, Any] | None) -> FeatureConfig:
    """``config`` with some fields replaced; unknown field names raise."""
    if not overrides:
        return config
    known = set(config.to_dict())
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise FaultsynthError(f"unknown feature settings {unknown}: expected some of {sorted(known)}")
    return replace(config, **dict(overrides))


def check_compatible(records: Sequence[ClipRecord], feature_config: FeatureConfig) -> None:
    """Raise unless every record can feed ``feature_config`` (sample rate, channel)."""
    expected_sr = int(feature_config.sample_rate)
    channel = feature_config.channel
    for record in records:
        if int(record.sample_rate) != expected_sr:
            raise FaultsynthError(
                f"{record.path}: sampled at {record.sample_rate} Hz, but the model's feature config expects "
                f"{expected_sr} Hz: evaluate data recorded at the training sample rate")
        if channel != "mean" and int(channel) >= int(record.channels):
            raise FaultsynthError(f"{record.path}: has {record.channels} channel(s), but the model's feature "
                                  f"config reads channel {channel}")


# ---------------------------------------------------------------- extraction

def _check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise FaultsynthError(f"batch_size must be a whole number of clips >= 1, got {batch_size!r}")
    return int(batch_size)


def _batched(signals: Sequence[np.ndarray], feature_config: FeatureConfig,
             batch_size: int) -> list[np.ndarray]:
    """Vectors of already-checked signals: one ``extract_batch`` per equal shape and dtype, in chunks."""
    from pipeline.features import extract_batch

    groups: dict[tuple, list[int]] = {}
    for i, y in enumerate(signals):
        # dtype too: stacking float32 with float64 would upcast, and "mean" would then average in float64.
        groups.setdefault((y.shape, y.dtype.str), []).append(i)
    out: list[np.ndarray | None] = [None] * len(signals)
    for members in groups.values():
        for start in range(0, len(members), batch_size):
            chunk = members[start:start + batch_size]
            vectors = extract_batch(feature_config, np.stack([signals[i] for i in chunk]))
            for i, v in zip(chunk, vectors):
                out[i] = v
    return out  # type: ignore[return-value]


def features_of_signals(signals: Sequence[np.ndarray], feature_config: FeatureConfig, *,
                        batch_size: int = BATCH_CLIPS) -> list[np.ndarray]:
    """Feature vectors of in-memory signals of any lengths, batched by equal shape.

    Parameters
    ----------
    signals : sequence of ndarray
        Each shape (n_samples,) or (n_samples, channels), at
        ``feature_config.sample_rate`` (units as the data: full scale, g, ...).
    feature_config : pipeline.features.FeatureConfig
    batch_size : int
        Most signals stacked into one :func:`pipeline.features.extract_batch`
        call (the stack is a copy: this bounds the extra memory).

    Returns
    -------
    list of ndarray, each shape (n_vectors, feature_config.dim), float32
        In the order of ``signals``; equal to ``pipeline.features.extract(feature_config, y)``
        for each signal ``y``.

    Raises
    ------
    FaultsynthError
        For the first signal (in order) that lacks the channel, has NaN/inf
        samples or is too short for one vector, with the message of
        :func:`pipeline.features.extract`.
    """
    from pipeline.features import check_clip

    batch_size = _check_batch_size(batch_size)
    signals = [np.asarray(y) for y in signals]
    for y in signals:
        check_clip(feature_config, y)
    return _batched(signals, feature_config, batch_size)


def clip_features(records: Sequence[ClipRecord], feature_config: FeatureConfig, *,
                  advance: Callable[[], None] | None = None, cache: dict | None = None,
                  batch_size: int = BATCH_CLIPS) -> list[np.ndarray]:
    """Feature vectors of each clip.

    Clips are loaded in order, ``batch_size`` uncached clips at a time; those
    of equal shape are extracted together (see :func:`features_of_signals`).

    Parameters
    ----------
    records : sequence of ClipRecord
    feature_config : pipeline.features.FeatureConfig
    advance : callable, optional
        Called once per clip (progress reporting).
    cache : dict, optional
        Reuses and stores vectors keyed by (feature config hash, file, sha256),
        so that several detectors on the same clips extract features once (one
        process).
    batch_size : int
        Most clips held in memory and extracted together.

    Returns
    -------
    list of ndarray, each shape (n_vectors, dim), float32
        In the order of ``records``.
    """
    from datasets.audio import load_audio
    from pipeline.features import check_clip
    from provenance import canonical_hash

    batch_size = _check_batch_size(batch_size)
    check_compatible(records, feature_config)
    config_key = canonical_hash(feature_config.to_dict())
    out: list[np.ndarray | None] = [None] * len(records)
    # Loaded, checked clips waiting for extraction: key -> (record indices, signal); a key met
    # twice while pending is extracted once when there is a cache (the second would have hit it).
    pending: dict[tuple, tuple[list[int], np.ndarray]] = {}

    def flush() -> None:
        keys = list(pending)
        vectors_of = _batched([pending[k][1] for k in keys], feature_config, batch_size)
        for key, vectors in zip(keys, vectors_of):
            indices = pending[key][0]
            record = records[indices[0]]
            vectors = np.asarray(vectors, dtype=np.float32)
            if vectors.ndim != 2 or vectors.shape[0] == 0:
                raise FaultsynthError(f"{record.path}: gave no feature vectors: expected a clip longer than "
                                      "one feature window")
            if not np.all(np.isfinite(vectors)):
                raise FaultsynthError(f"{record.path}: its features contain NaN or infinity")
            if cache is not None:
                cache[key] = vectors
            for i in indices:
                out[i] = vectors
                if advance is not None:
                    advance()
        pending.clear()

    for i, record in enumerate(records):
        key = (config_key, str(record.file), record.sha256)
        if cache is not None and key in cache:
            out[i] = cache[key]
            if advance is not None:
                advance()
            continue
        if cache is not None and key in pending:
            pending[key][0].append(i)
            continue
        y = load_audio(record, channel=None)  # (n_samples, channels); extraction picks the channel
        check_clip(feature_config, y)  # now, so that the first bad clip in order raises
        pending[key if cache is not None else (i,)] = ([i], y)
        if len(pending) >= batch_size:
            flush()
    flush()
    return out  # type: ignore[return-value]

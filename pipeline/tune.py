"""``tune``: choose front end, detector and threshold from faults injected into the user's normal recordings.

A user with a new machine has normal recordings and no failures. ``tune`` cuts
the recordings into segments of ``segment_s`` seconds, injects the machine
type's synthetic faults over a severity grid into every segment
(:func:`datasets.blend.inject_clip`), and scores a declared space of
candidates (:func:`search_space`) by k-fold cross-validation over the
segments: the folds keep each source recording whole when there are at least
as many recordings as folds, else contiguous blocks of segments, so no
held-out segment overlaps one a candidate was fitted on. Each fold's model
scores its held-out normal segments and the faults injected into them; the
pooled out-of-fold scores give, per candidate,

* a calibrated threshold at the target false-positive rate (:mod:`pipeline.calibration`),
* coverage: per fault and severity the AUC and the detection rate at that
  threshold, and whether the cell is detected (:func:`pipeline.evaluate.coverage`),
* device cost (:mod:`pipeline.device_cost`, the model ``export`` reports).

Ranking: most detected (fault, severity) cells, then highest mean cell AUC,
then lowest instructions per second; with a budget, only candidates the C
runtime runs within it can win. The winner is refitted on every segment and
written as a model bundle that ``evaluate`` and ``export`` take.

Spectrograms are computed once per mel front end (band and number of bands)
and shared by every candidate that differs only after the mel stage (frames
per vector, clip statistics, detector, pooling of window scores).
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import json
import math
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from datasets.atomic import write_text_atomic
from errors import FaultsynthError

#: Window-score pooling: name shown to users -> pipeline.detectors aggregate (higher = more normal).
POOLINGS = {"mean": "mean", "max": "min", "top10": "low_mean"}
#: Clip statistics of each mel band (kind "log_mel_stats" in pipeline.features).
STATS_POOLING = "clip_stats"
DEFAULT_SEVERITIES = (0.25, 0.5, 0.75, 1.0)
DEFAULT_DETECTORS = ("kmeans", "gaussian", "autoencoder")
WORK_DIR = ".tune"
MODEL_DIR = "model"
#: Most candidates shown in the leaderboard plot.
PLOT_TOP = 25


@dataclass(frozen=True)
class TuneConfig:
    """What ``tune`` searches and how; validated on construction.

    Parameters
    ----------
    machine : str
        Generator machine type whose faults are injected (generators.registry).
    faults : tuple of str
        Fault types (empty = all of the machine's).
    severities : tuple of float
        Severity grid, increasing, each in (0, 1].
    target_fpr : float
        False-positive rate the threshold is set for, in (0, 1).
    segment_s : float
        Length of a segment (one decision of the detector), seconds.
    folds : int
        Cross-validation folds (>= 2).
    seed : int
    channel : int or str
        Channel of multi-channel recordings (``"mean"``, or a CWRU name such as ``"DE"``).
    layout : str
        Layout of the recordings (datasets.loaders).
    budget : pipeline.device_cost.Budget or None
        Device budget a winner must meet (then only C-runtime-supported candidates can win).
    fixed : dict
        Known machine parameters for the fault generator (e.g. ``{"rpm": 1797}``).
    detectors : tuple of str
        Detector families searched.
    ae_epochs : int
        Autoencoder training epochs.
    fault_scale : {"machine", "absolute"}
        Injection scaling (datasets.blend).
    per_clip : bool
        Draw the fault generator's parameters per injected segment instead of one synthetic
        machine behind all of them (:mod:`generators.identity`).
    """

    machine: str
    faults: tuple[str, ...] = ()
    severities: tuple[float, ...] = DEFAULT_SEVERITIES
    target_fpr: float = 0.01
    segment_s: float = 2.0
    folds: int = 5
    seed: int = 0
    channel: int | str = 0
    layout: str = "auto"
    budget: Any = None
    fixed: Mapping[str, Any] = field(default_factory=dict)
    detectors: tuple[str, ...] = DEFAULT_DETECTORS
    ae_epochs: int = 20
    fault_scale: str = "machine"
    per_clip: bool = False

    def __post_init__(self) -> None:
        from generators.base import check_fault, check_severity
        from generators.registry import get_machine
        from pipeline.detectors import DETECTORS

        machine = get_machine(self.machine)
        faults = tuple(self.faults) or tuple(machine.faults)
        for fault in faults:
            check_fault(machine, fault)
        if len(set(faults)) != len(faults):
            raise FaultsynthError(f"fault types listed twice: {list(faults)}")
        if not self.severities:
            raise FaultsynthError("no severities: expected a comma list such as 0.25,0.5,1")
        for s in self.severities:
            if check_severity(s) == 0.0:
                raise FaultsynthError("severity 0 is a normal clip: expected severities in (0, 1]")
        if list(self.severities) != sorted(set(self.severities)):
            raise FaultsynthError(f"severities must be increasing without repeats, got {list(self.severities)}")
        if not (0.0 < float(self.target_fpr) < 1.0):
            raise FaultsynthError(f"target FPR must be within (0, 1), e.g. 0.01, got {self.target_fpr!r}")
        if not (math.isfinite(self.segment_s) and self.segment_s > 0):
            raise FaultsynthError(f"segment length must be a positive number of seconds, got {self.segment_s!r}")
        if isinstance(self.folds, bool) or not isinstance(self.folds, int) or self.folds < 2:
            raise FaultsynthError(f"folds must be a whole number >= 2, got {self.folds!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise FaultsynthError(f"seed must be a whole number >= 0, got {self.seed!r}")
        unknown = [d for d in self.detectors if d not in DETECTORS]
        if unknown or not self.detectors:
            raise FaultsynthError(f"unknown detectors {unknown}: expected some of {', '.join(DETECTORS)}")
        if isinstance(self.ae_epochs, bool) or not isinstance(self.ae_epochs, int) or self.ae_epochs < 1:
            raise FaultsynthError(f"autoencoder epochs must be a whole number >= 1, got {self.ae_epochs!r}")
        from datasets.limits import DURATION_S, SEED, check_float, check_int

        check_float("segment length", self.segment_s, DURATION_S, "s")
        check_int("folds", self.folds, (2, 100))
        check_int("seed", self.seed, SEED)
        check_int("autoencoder epochs", self.ae_epochs, (1, 10_000))
        object.__setattr__(self, "faults", faults)
        object.__setattr__(self, "severities", tuple(float(s) for s in self.severities))
        object.__setattr__(self, "fixed", dict(self.fixed))
        object.__setattr__(self, "detectors", tuple(self.detectors))
        from generators.registry import check_fixed

        check_fixed(machine, self.fixed)

    def clip_fixed(self, sample_rate: int) -> dict:
        """Fault-generator ``fixed`` mapping of every injected segment: one machine (id_00), or per clip."""
        if self.per_clip:
            return dict(self.fixed)
        from generators.identity import clip_fixed, machine_build

        build = machine_build(self.machine, seed=self.seed, machine_id="id_00", sample_rate=sample_rate,
                              fixed=self.fixed)
        return clip_fixed(self.machine, build, self.fixed)

    @property
    def kind(self) -> str:
        """``"audio"`` or ``"vibration"``: the machine's signal kind."""
        from generators.registry import get_machine

        return get_machine(self.machine).kind

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        budget = None if self.budget is None else {k: float(v) for k, v in vars(self.budget).items()}
        return {"machine": self.machine, "faults": list(self.faults), "severities": list(self.severities),
                "target_fpr": float(self.target_fpr), "segment_s": float(self.segment_s), "folds": self.folds,
                "seed": self.seed, "channel": self.channel, "layout": self.layout, "budget": budget,
                "fixed": dict(sorted(self.fixed.items())), "detectors": list(self.detectors),
                "ae_epochs": self.ae_epochs, "fault_scale": self.fault_scale, "per_clip": self.per_clip}


# ---------------------------------------------------------------- the search space

@dataclass(frozen=True)
class Model:
    """One fitted-model configuration: feature config + detector (pooling of window scores comes after).

    Attributes
    ----------
    features : pipeline.features.FeatureConfig
    detector : str
    params : tuple of (name, value)
        Detector keywords (``make_detector``).
    poolings : tuple of str
        Window-score poolings evaluated on this model's scores (keys of :data:`POOLINGS`).
    """

    features: Any
    detector: str
    params: tuple
    poolings: tuple[str, ...]

    @property
    def key(self) -> str:
        """Stable short id (hash of the configuration)."""
        from provenance import canonical_hash

        return canonical_hash({"f": self.features.to_dict(), "d": self.detector,
                               "p": [list(p) for p in self.params]})[:12]

    def describe_features(self) -> str:
        """Short text of the front end, e.g. ``log-mel 16 x 4, 0-500 Hz``."""
        f = self.features
        fmax = f.sample_rate / 2 if f.fmax_hz is None else f.fmax_hz
        if f.kind == "vibration":
            return (f"vibration {f.n_mels} bands + {f.n_envelope_bands} env. bands to {f.envelope_fmax_hz:g} Hz "
                    f"(demod. from {f.envelope_fmin_hz:g} Hz)")
        band = f"{f.fmin_hz:g}-{fmax:g} Hz"
        if f.kind == "log_mel_stats":
            return f"log-mel {f.n_mels}, clip stats, {band}"
        return f"log-mel {f.n_mels} x {f.n_frames}, {band}"


def frame_length(sample_rate: int, *, seconds: float) -> int:
    """Power-of-two frame length nearest to ``seconds`` at ``sample_rate`` (at least 64)."""
    return int(max(64, 2 ** round(math.log2(seconds * sample_rate))))


def _mel_bands_resolved(sample_rate: int, n_fft: int, n_mels: int, fmin_hz: float, fmax_hz: float) -> bool:
    """True if adjacent mel centre frequencies are at least 1.5 FFT bins apart (no empty bands)."""
    from pipeline.features import hz_to_mel, mel_to_hz

    points = mel_to_hz(np.linspace(hz_to_mel(fmin_hz), hz_to_mel(fmax_hz), n_mels + 2))
    return float(np.min(np.diff(points))) >= 1.5 * sample_rate / n_fft


def search_space(config: TuneConfig, sample_rate: int) -> list[Model]:
    """Every model the search fits, in a fixed order.

    Audio: log-mel front ends with ``n_fft`` = 64 ms, half overlap, no padding
    (streamable), bands 0-500, 0-1000, 0-2000, 0-4000 Hz, the full band and
    1 kHz-Nyquist (those below Nyquist), 16 or 32 mel bands where the bands
    stay wider than 1.5 FFT bins; per front end k-means (k = 8) and Gaussian on
    1 and 4 frames per vector, the TinyML autoencoder on 4 frames, and a
    two-sided Gaussian on clip statistics of the bands (10th, 50th, 90th
    percentile and standard deviation over the segment: sees a tone or click
    that drops out as well as one that appears). Vibration: per-window vibration
    features (16 spectral bands, 16 envelope-spectrum bands up to 500 or
    2000 Hz, demodulated from 0 or from an eighth of the sample rate, RMS,
    kurtosis, crest factor) with the same detectors on 1 window per vector.
    Window models are scored with every pooling of :data:`POOLINGS`.
    """
    from pipeline.features import FeatureConfig

    nyquist = sample_rate / 2.0
    poolings = tuple(POOLINGS)
    models: list[Model] = []
    det = set(config.detectors)
    ae = ("autoencoder", (("epochs", config.ae_epochs), ("tinyml", True)))
    if config.kind == "vibration":
        n_fft = frame_length(sample_rate, seconds=0.17)
        for env_fmax in (500.0, 2000.0):
            for env_fmin in (0.0, sample_rate / 8.0):
                if env_fmax > nyquist:
                    continue
                feats = FeatureConfig(kind="vibration", sample_rate=sample_rate, n_fft=n_fft, hop_length=n_fft // 2,
                                      n_mels=16, n_frames=1, center=False, channel=0, n_envelope_bands=16,
                                      envelope_fmax_hz=env_fmax, envelope_fmin_hz=env_fmin)
                for name, params in (("kmeans", (("n_clusters", 8),)), ("gaussian", ()), ae):
                    if name in det:
                        models.append(Model(feats, name, params, poolings))
        return models
    n_fft = frame_length(sample_rate, seconds=0.064)
    bands = [(0.0, f) for f in (500.0, 1000.0, 2000.0, 4000.0) if f < nyquist] + [(0.0, None), (1000.0, None)]
    for fmin, fmax in bands:
        top = nyquist if fmax is None else fmax
        if fmin >= top:
            continue
        for n_mels in (16, 32):
            if not _mel_bands_resolved(sample_rate, n_fft, n_mels, fmin, top):
                continue
            base = FeatureConfig(kind="log_mel", sample_rate=sample_rate, n_fft=n_fft, hop_length=n_fft // 2,
                                 n_mels=n_mels, n_frames=1, fmin_hz=fmin, fmax_hz=fmax, center=False, channel=0)
            for n_frames in (1, 4):
                feats = replace(base, n_frames=n_frames)
                if "kmeans" in det:
                    models.append(Model(feats, "kmeans", (("n_clusters", 8),), poolings))
                if "gaussian" in det:
                    models.append(Model(feats, "gaussian", (), poolings))
                if "autoencoder" in det and n_frames == 4 and n_mels == 16:
                    models.append(Model(feats, *ae, poolings))
            if "gaussian" in det:
                models.append(Model(replace(base, kind="log_mel_stats"), "gaussian", (), ("mean",)))
    return models


# ---------------------------------------------------------------- data: segments and injected faults

@dataclass
class TuneData:
    """Normal segments and the faults injected into them (all in memory).

    Attributes
    ----------
    sample_rate : int
    normal : ndarray, shape (n_segments, n_samples), float32
    groups : ndarray, shape (n_segments,)
        Fold group of each segment (recording index, or block index).
    spans : list of (source_file, start_s, end_s)
    injected : dict (fault, severity) -> ndarray, shape (n_segments, n_samples), float32
        The fault injected into every normal segment.
    files : list of str
        Source recordings (resolved paths).
    fingerprint : str
        Hash of the recordings' bytes, the channel and the segmentation.
    """

    sample_rate: int
    normal: np.ndarray
    groups: np.ndarray
    spans: list
    injected: dict
    files: list
    fingerprint: str


def resolve_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """Files, folders and glob patterns -> existing paths (sorted, de-duplicated)."""
    out: list[Path] = []
    for item in paths:
        text = str(item)
        matches = sorted(glob.glob(text)) if any(c in text for c in "*?[") else [text]
        if not matches:
            raise FaultsynthError(f"{text}: the pattern matches no file: expected normal recordings")
        for m in matches:
            p = Path(m)
            if not p.exists():
                raise FaultsynthError(f"{p}: no such file or folder: expected normal recordings")
            if p.resolve() not in [q.resolve() for q in out]:
                out.append(p)
    if not out:
        raise FaultsynthError("no normal recordings given: expected --data FILE, FOLDER or PATTERN")
    return out


def load_segments(paths: Sequence[str | Path], config: TuneConfig) -> tuple[int, np.ndarray, np.ndarray, list,
                                                                              list, str]:
    """Cut the normal recordings into segments of ``config.segment_s``.

    Returns
    -------
    (sample_rate, segments (n, n_samples) float32, groups (n,), spans, files, fingerprint)
    """
    from datasets.audio import load_audio
    from datasets.loaders import load_records
    from provenance import canonical_hash, sha256_file

    records = []
    for path in resolve_inputs(paths):
        try:
            found = load_records(path, layout=config.layout)
        except FaultsynthError as exc:
            # Plain recordings of the user's machine follow no dataset's naming: read them as WAV files.
            if config.layout != "auto" or "unknown layout" not in str(exc):
                raise
            found = load_records(path, layout="wav")
        records += [r for r in found if r.label == "normal"]
    if not records:
        raise FaultsynthError("no normal recordings found in --data: tune needs recordings of the healthy machine")
    unique = {}
    for r in records:
        unique.setdefault(str(r.file.resolve()), r)
    records = [unique[k] for k in sorted(unique)]
    rates = sorted({int(r.sample_rate) for r in records})
    if len(rates) != 1:
        raise FaultsynthError(f"the normal recordings have several sample rates {rates} Hz: expected one")
    rate = rates[0]
    n_seg = int(round(config.segment_s * rate))
    segments, spans, rec_index = [], [], []
    digests = []
    for i, record in enumerate(records):
        x = np.asarray(load_audio(record, channel=config.channel), dtype=np.float32)
        digests.append(sha256_file(record.file))
        for k in range(x.size // n_seg):
            segments.append(x[k * n_seg:(k + 1) * n_seg])
            spans.append((str(record.file.resolve()), k * n_seg / rate, (k + 1) * n_seg / rate))
            rec_index.append(i)
    total_s = sum(r.duration_s for r in records)
    need = 2 * config.folds
    if len(segments) < need:
        raise FaultsynthError(
            f"the normal recordings ({total_s:.1f} s) give {len(segments)} segments of {config.segment_s:g} s: "
            f"tune needs at least {need} ({need * config.segment_s:g} s of normal audio for {config.folds} folds); "
            "give more recordings, or a shorter --segment")
    rec_index = np.array(rec_index)
    if len(records) >= config.folds:
        groups = rec_index
    else:
        # Few recordings: contiguous blocks of segments, about two blocks per fold.
        n_blocks = min(len(segments), 2 * config.folds)
        groups = np.floor(np.arange(len(segments)) * n_blocks / len(segments)).astype(int)
    fingerprint = canonical_hash({"files": digests, "channel": str(config.channel), "segment": n_seg,
                                  "layout": config.layout})
    return rate, np.stack(segments), groups, spans, [str(r.file.resolve()) for r in records], fingerprint


def _inject_job(item: tuple) -> np.ndarray:
    """Fault ``fault`` at ``severity`` injected into each segment (seeded per segment)."""
    from datasets.blend import inject_clip
    from datasets.synth import clip_seed

    fault, severity, cell_index = item
    cfg: TuneConfig = _SHARED["config"]
    segments: np.ndarray = _SHARED["normal"]
    out = np.empty_like(segments)
    fixed = cfg.clip_fixed(_SHARED["rate"])
    for i, seg in enumerate(segments):
        seed = clip_seed(cfg.seed, cell_index * segments.shape[0] + i)
        out[i] = inject_clip(seg, machine=cfg.machine, fault=fault, severity=severity,
                             sample_rate=_SHARED["rate"], seed=seed, fixed=fixed,
                             fault_scale=cfg.fault_scale).signal
    return out


#: Data the jobs read: set in this process, and in each worker by :func:`_share`.
_SHARED: dict[str, Any] = {}


def _share(values: dict) -> None:
    """Worker initialiser: receive the shared data once per process."""
    _SHARED.clear()
    _SHARED.update(values)


def _with_shared(function: Callable, shared: dict, job: Any) -> Any:
    """``function(job)`` on a Dask worker, after receiving ``shared`` (once per worker and run)."""
    if _SHARED.get("_from") is not shared:
        _share(shared)
        _SHARED["_from"] = shared
    return function(job)


def _pool_map(function: Callable, jobs: list, workers: int, done: Callable[[Any, Any], None],
              shared: dict, client=None) -> None:
    """``done(job, function(job))`` for every job, in worker processes when ``workers > 1``.

    Workers are spawned, not forked: a fork of a process whose OpenMP or
    TensorFlow thread pools are running (k-means, the autoencoder) can hang.
    With a Dask ``client``, the jobs run on its cluster instead (``shared`` is sent to every worker once).
    """
    _share(shared)
    if client is not None and jobs:
        [handle] = client.scatter([shared], broadcast=True)
        futures = [(job, client.submit(_with_shared, function, handle, job, pure=False)) for job in jobs]
        for job, future in futures:
            done(job, future.result())
        return
    # Spawned workers re-import the main module: from a stdin script or a REPL there is none, so run here.
    importable_main = getattr(sys.modules.get("__main__"), "__file__", None) is not None
    if workers <= 1 or len(jobs) < 2 or not importable_main:
        for job in jobs:
            done(job, function(job))
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=_share, initargs=(shared,)) as pool:
        futures = [(job, pool.submit(function, job)) for job in jobs]
        for job, future in futures:
            done(job, future.result())


def prepare_data(paths: Sequence[str | Path], config: TuneConfig, *, workers: int = 1,
                 advance: Callable[[], None] | None = None, client=None) -> TuneData:
    """Segments of the normal recordings and every fault x severity injected into each."""
    rate, normal, groups, spans, files, fingerprint = load_segments(paths, config)
    cells = [(f, s, i) for i, (f, s) in enumerate((f, s) for f in config.faults for s in config.severities)]
    injected: dict = {}

    def done(job, value):
        injected[(job[0], job[1])] = value
        if advance is not None:
            advance()

    _pool_map(_inject_job, cells, workers, done, {"config": config, "normal": normal, "rate": rate}, client)
    return TuneData(sample_rate=rate, normal=normal, groups=groups, spans=spans,
                    injected={(f, s): injected[(f, s)] for f, s, _ in cells}, files=files,
                    fingerprint=fingerprint)


# ---------------------------------------------------------------- features, shared per mel stage

def _mel_key(features) -> tuple:
    return (features.sample_rate, features.n_fft, features.hop_length, features.n_mels, features.fmin_hz,
            features.fmax_hz, features.center, features.power)


def segment_vectors(features, signals: np.ndarray, cache: dict, name: str) -> np.ndarray:
    """Feature vectors of equal-length mono segments, sharing log-mel spectrograms through ``cache``.

    Parameters
    ----------
    features : pipeline.features.FeatureConfig
    signals : ndarray, shape (n_segments, n_samples)
    cache : dict
        Spectrograms keyed by (mel stage, ``name``).
    name : str
        Which signal set (e.g. ``"normal"`` or a fault cell): part of the cache key.

    Returns
    -------
    ndarray, shape (n_segments, n_vectors, dim), float32
        Identical to ``pipeline.features.extract_batch(features, signals)``.
    """
    from pipeline import features as F

    if features.kind not in ("log_mel", "log_mel_stats"):
        return F.extract_batch(features, signals)
    key = (_mel_key(features), name)
    if key not in cache:
        cache[key] = F.log_mel_batch(signals, features.sample_rate, n_fft=features.n_fft,
                                     hop_length=features.hop_length, n_mels=features.n_mels,
                                     fmin_hz=features.fmin_hz, fmax_hz=features.fmax_hz, center=features.center,
                                     power=features.power)
    return F.vectors_from_log_mel(features, cache[key])


# ---------------------------------------------------------------- cross-validated scoring of one model

def _fit(model: Model, X: np.ndarray, seed: int):
    from pipeline.detectors import make_detector, seeded_params

    return make_detector(model.detector, **seeded_params(model.detector, dict(model.params), seed=seed)).fit(X)


def _pooled(detector, vectors: np.ndarray, poolings: Sequence[str]) -> dict[str, np.ndarray]:
    """Anomaly score per segment for each pooling: ``{pooling: (n_segments,)}``."""
    from pipeline.detectors import aggregate_scores

    n, per = vectors.shape[0], vectors.shape[1]
    window = detector.score_samples(vectors.reshape(n * per, -1)).reshape(n, per)
    return {p: -np.array([aggregate_scores(w, POOLINGS[p]) for w in window]) for p in poolings}


def cross_validate(model: Model, data: TuneData, folds: list[np.ndarray], *, seed: int,
                   cache: dict | None = None) -> dict:
    """Out-of-fold anomaly scores of ``model`` for every pooling.

    Returns
    -------
    dict
        ``{"normal": {pooling: (n_segments,)}, "cells": {pooling: {(fault, severity): (n_segments,)}},
        "fit_seconds": float}``
    """
    cache = {} if cache is None else cache
    normal_vectors = segment_vectors(model.features, data.normal, cache, "normal")
    cell_vectors = {cell: segment_vectors(model.features, signals, cache, f"{cell[0]}@{cell[1]:g}")
                    for cell, signals in data.injected.items()}
    n = data.normal.shape[0]
    normal = {p: np.full(n, np.nan) for p in model.poolings}
    cells = {p: {c: np.full(n, np.nan) for c in cell_vectors} for p in model.poolings}
    t0 = time.perf_counter()
    for held in folds:
        train = np.setdiff1d(np.arange(n), held)
        X = normal_vectors[train].reshape(-1, normal_vectors.shape[-1])
        detector = _fit(model, X, seed)
        for p, s in _pooled(detector, normal_vectors[held], model.poolings).items():
            normal[p][held] = s
        for cell, vectors in cell_vectors.items():
            for p, s in _pooled(detector, vectors[held], model.poolings).items():
                cells[p][cell][held] = s
    return {"normal": normal, "cells": cells, "fit_seconds": (time.perf_counter() - t0) / len(folds)}


def _cv_job(model: Model) -> dict:
    return cross_validate(model, _SHARED["data"], _SHARED["folds"], seed=_SHARED["config"].seed,
                          cache=_SHARED.setdefault("cache", {}))


# ---------------------------------------------------------------- ranking

@dataclass
class CandidateResult:
    """One candidate (model + pooling) scored by its out-of-fold coverage.

    Attributes
    ----------
    model : Model
    pooling : str
    calibration : pipeline.calibration.Calibration or None
        None when the target cannot be calibrated (then ``problem`` says why).
    coverage : dict
        As ``pipeline.evaluate.coverage``.
    detected_cells, cells : int
    mean_auc : float
    cost : pipeline.device_cost.DeviceCost
    feasible : bool
        Can win: calibrated, and (with a budget) supported by the C runtime and within it.
    problem : str
    fit_seconds : float
    """

    model: Model
    pooling: str
    calibration: Any
    coverage: dict
    detected_cells: int
    cells: int
    mean_auc: float
    cost: Any
    feasible: bool
    problem: str
    fit_seconds: float

    @property
    def name(self) -> str:
        """e.g. ``log-mel 16 x 1, 0-500 Hz · kmeans n_clusters=8 · mean``."""
        params = ", ".join(f"{k}={v}" for k, v in self.model.params if k not in ("tinyml", "epochs"))
        det = self.model.detector + (" (TinyML)" if dict(self.model.params).get("tinyml") else "")
        return f"{self.model.describe_features()} · {det}{' ' + params if params else ''} · {self.pooling}"

    def rank_key(self) -> tuple:
        """Sort key, best first."""
        return (not self.feasible, -self.detected_cells, -self.mean_auc, self.cost.instructions_per_second)


def score_candidates(model: Model, scores: dict, config: TuneConfig) -> list[CandidateResult]:
    """Calibrate, measure coverage and cost of each pooling of one cross-validated model."""
    from pipeline.calibration import calibrate
    from pipeline.detectors import make_detector
    from pipeline.device_cost import detector_spec_of, estimate_cost
    from pipeline.evaluate import coverage

    unfitted_spec = detector_spec_of(make_detector(model.detector, **dict(model.params)))
    out = []
    for pooling in model.poolings:
        normal = scores["normal"][pooling]
        cells = scores["cells"][pooling]
        faults = ["none"] * normal.size
        severities = [0.0] * normal.size
        values = [normal]
        for (fault, severity), s in cells.items():
            faults += [fault] * s.size
            severities += [severity] * s.size
            values.append(s)
        all_scores = np.concatenate(values)
        mask = np.zeros(all_scores.size, dtype=bool)
        mask[:normal.size] = True
        problem = ""
        try:
            cal = calibrate(normal, target_fpr=config.target_fpr)
            threshold = cal.threshold
        except FaultsynthError as exc:
            cal, threshold, problem = None, float(np.max(normal)), str(exc)
        cov = coverage(faults, severities, all_scores, normal_mask=mask, threshold=threshold)
        levels = [lv for f in cov["faults"].values() for lv in f["levels"]]
        cost = estimate_cost(model.features, {**unfitted_spec, "aggregate": POOLINGS[pooling]})
        feasible = cal is not None
        if feasible and config.budget is not None:
            ok, violations = cost.within(config.budget)
            if not cost.supported:
                feasible, problem = False, f"not runnable by the C runtime: {cost.reason}"
            elif not ok:
                feasible, problem = False, "over budget: " + "; ".join(violations)
        out.append(CandidateResult(model=model, pooling=pooling, calibration=cal, coverage=cov,
                                   detected_cells=sum(bool(lv["detected"]) for lv in levels), cells=len(levels),
                                   mean_auc=float(np.mean([lv["auc"] for lv in levels])), cost=cost,
                                   feasible=feasible, problem=problem, fit_seconds=scores["fit_seconds"]))
    return out


# ---------------------------------------------------------------- the command

@dataclass
class TuneResult:
    """What ``tune`` produced.

    Attributes
    ----------
    out_dir : Path
    ranking : list of CandidateResult
        Best first.
    winner : CandidateResult
    reused : int
        Cross-validated models reused from an interrupted or earlier run.
    timings_s : dict
    """

    out_dir: Path
    ranking: list
    winner: Any
    reused: int
    timings_s: dict


def _check_out(out: Path) -> None:
    """``out`` must be new, empty, or an earlier tune folder."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / WORK_DIR).is_dir()
                                              and not (out / "tune.json").is_file())):
        raise FaultsynthError(f"{out} exists and holds something else than a tune run: choose a new --out")


def _save_scores(path: Path, scores: dict) -> None:
    arrays = {"fit_seconds": np.array(scores["fit_seconds"])}
    for p, s in scores["normal"].items():
        arrays[f"normal|{p}"] = s
    for p, cells in scores["cells"].items():
        for (fault, severity), s in cells.items():
            arrays[f"cell|{p}|{fault}|{severity!r}"] = s
    tmp = path.with_name(path.name + ".part.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _load_scores(path: Path) -> dict | None:
    try:
        with np.load(path) as z:
            out = {"normal": {}, "cells": {}, "fit_seconds": float(z["fit_seconds"])}
            for key in z.files:
                parts = key.split("|")
                if parts[0] == "normal":
                    out["normal"][parts[1]] = z[key]
                elif parts[0] == "cell":
                    out["cells"].setdefault(parts[1], {})[(parts[2], float(parts[3]))] = z[key]
            return out
    except (OSError, ValueError, KeyError):
        return None


def run_tune(paths: Sequence[str | Path], config: TuneConfig, out_dir: str | Path, *, workers: int = 1,
             progress: bool = True, scheduler: str | None = None) -> TuneResult:
    """Search, pick and write the winning model (see the module docstring).

    Parameters
    ----------
    paths : sequence of path or glob pattern
        Normal recordings of the user's machine (files, folders, datasets).
    config : TuneConfig
    out_dir : path
        ``model/`` (bundle), ``leaderboard.csv``, ``leaderboard.png``,
        ``coverage.png``, ``predicted_coverage.json``, ``tune.json``,
        ``report.md``; cross-validated scores are kept in ``.tune/`` so a rerun
        of the same command resumes.
    workers : int
        Processes for injection and the candidates (results do not depend on it).
    progress : bool
    scheduler : str or None
        Inject and cross-validate on a Dask cluster instead (``local:N`` or ``tcp://HOST:PORT``,
        :mod:`datasets.executor`); the same results.

    Returns
    -------
    TuneResult
    """
    from datasets.output_folder import folder_lock

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise FaultsynthError(f"--workers must be a whole number >= 1, got {workers!r}")
    out = Path(out_dir)
    with folder_lock(out):  # one run per folder; the kernel frees the lock if this run dies
        _check_out(out)
        return _tune_in(paths, config, out, workers=workers, progress=progress, scheduler=scheduler)


def _tune_in(paths: Sequence[str | Path], config: TuneConfig, out: Path, *, workers: int,
             progress: bool, scheduler: str | None) -> TuneResult:
    """:func:`run_tune` inside the folder lock."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from datasets.executor import check_scheduler, dask_client
    from pipeline.calibration import fold_indices
    from provenance import canonical_hash

    timings: dict[str, float] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with contextlib.ExitStack() as stack:
        client = None
        if check_scheduler(scheduler) is not None:
            client = stack.enter_context(dask_client(scheduler))
        bar = stack.enter_context(Progress(*columns, disable=not progress, transient=False))
        t0 = time.perf_counter()
        task = bar.add_task("injecting faults", total=len(config.faults) * len(config.severities))
        data = prepare_data(paths, config, workers=workers, advance=lambda: bar.advance(task), client=client)
        timings["inject"] = time.perf_counter() - t0
        folds = fold_indices(data.groups, folds=config.folds, seed=config.seed)
        models = search_space(config, data.sample_rate)
        run_hash = canonical_hash({"config": config.to_dict(), "data": data.fingerprint})[:16]
        work = out / WORK_DIR / run_hash
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        scores: dict[str, dict] = {}
        todo = []
        for model in models:
            cached = _load_scores(work / f"{model.key}.npz")
            if cached is not None:
                scores[model.key] = cached
            else:
                todo.append(model)
        reused = len(models) - len(todo)
        task = bar.add_task("cross-validating candidates", total=len(models), completed=reused)

        def done(model, result):
            _save_scores(work / f"{model.key}.npz", result)
            scores[model.key] = result
            bar.advance(task)

        # Grouped by mel stage: a worker computes each spectrogram once; autoencoders (slowest) first.
        todo.sort(key=lambda m: (m.detector != "autoencoder", str(_mel_key(m.features))))
        _pool_map(_cv_job, todo, workers, done, {"data": data, "folds": folds, "config": config}, client)
        timings["search"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        results = [r for m in models for r in score_candidates(m, scores[m.key], config)]
        ranking = sorted(results, key=lambda r: r.rank_key())
        winner = ranking[0]
        if not winner.feasible:
            raise FaultsynthError(f"no candidate can be used: {winner.problem}")
        task = bar.add_task("fitting the winner on every segment", total=1)
        _write_winner(out, winner, data, config)
        bar.advance(task)
        timings["refit"] = time.perf_counter() - t0
    _SHARED.clear()
    _write_outputs(out, ranking, winner, data, config, models, timings, reused)
    return TuneResult(out_dir=out, ranking=ranking, winner=winner, reused=reused, timings_s=timings)


def _write_winner(out: Path, winner: CandidateResult, data: TuneData, config: TuneConfig) -> None:
    """Refit the winner on every normal segment and write its bundle to ``out/model`` (swapped in whole)."""
    from pipeline.training import TrainConfig, write_bundle

    model = winner.model
    vectors = segment_vectors(model.features, data.normal, {}, "normal")
    X = vectors.reshape(-1, vectors.shape[-1])
    params = dict(model.params)
    params["aggregate"] = POOLINGS[winner.pooling]
    fitted = _fit(replace(model, params=tuple(sorted(params.items()))), X, config.seed)
    train_config = TrainConfig(detector=model.detector, features="tune", seed=config.seed,
                               target_fpr=config.target_fpr, folds=config.folds, detector_params=params)
    staging = out / f".{MODEL_DIR}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    summary = {"clips": int(data.normal.shape[0]), "vectors": int(X.shape[0]),
               "machines": [f"{config.machine}/tuned"], "sample_rate": data.sample_rate,
               "data": ", ".join(data.files), "sources": {"real": int(data.normal.shape[0])},
               "clip_files": sorted(data.files), "spans": [list(s) for s in data.spans],
               "clip_duration_s": float(config.segment_s)}
    write_bundle(staging, detector=fitted, detector_name=model.detector, detector_params=params,
                 feature_config=model.features, calibration=winner.calibration, train_summary=summary,
                 train_config=train_config.to_dict(), representative=X, seed=config.seed)
    final = out / MODEL_DIR
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)


# ---------------------------------------------------------------- outputs

LEADERBOARD_COLUMNS = ("rank", "candidate", "features", "detector", "pooling", "dim", "detected_cells", "cells",
                       "mean_auc", "threshold_method", "oof_false_positives", "oof_normal_segments",
                       "fpr_ci_low", "fpr_ci_high", "flash_bytes", "ram_bytes", "instructions_per_second",
                       "c_runtime", "feasible", "problem", "fit_seconds", "feature_config")


def leaderboard_csv(ranking: Sequence[CandidateResult]) -> str:
    """The ranking as CSV text (one row per candidate, best first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LEADERBOARD_COLUMNS)
    for i, r in enumerate(ranking, 1):
        cal = r.calibration
        writer.writerow([i, r.name, r.model.describe_features(), r.model.detector, r.pooling, r.model.features.dim,
                         r.detected_cells, r.cells, f"{r.mean_auc:.4f}", cal.method if cal else "",
                         cal.false_positives if cal else "", cal.normal_clips if cal else "",
                         f"{cal.fpr_ci[0]:.4f}" if cal else "", f"{cal.fpr_ci[1]:.4f}" if cal else "",
                         r.cost.flash_bytes, r.cost.ram_bytes, int(r.cost.instructions_per_second),
                         "yes" if r.cost.supported else "no", "yes" if r.feasible else "no", r.problem,
                         f"{r.fit_seconds:.3f}", json.dumps(r.model.features.to_dict(), sort_keys=True)])
    return buffer.getvalue()


def plot_leaderboard(path: Path, ranking: Sequence[CandidateResult], *, title: str = "") -> Path:
    """Horizontal bars of the best candidates: detected cells and mean AUC, cost beside them."""
    from pipeline.reports import _pyplot, _save

    plt = _pyplot()
    top = list(ranking[:PLOT_TOP])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 0.32 * len(top) + 1.6), sharey=True,
                                   gridspec_kw={"width_ratios": [1, 1]})
    y = np.arange(len(top))[::-1]
    colours = {"kmeans": "tab:blue", "gaussian": "tab:green", "autoencoder": "tab:orange"}
    for ax, values, label in ((ax1, [r.detected_cells for r in top], "detected (fault, severity) cells"),
                              (ax2, [r.mean_auc for r in top], "mean AUC over cells (out of fold)")):
        bars = ax.barh(y, values, color=[colours.get(r.model.detector, "grey") for r in top])
        for bar_, r in zip(bars, top):
            if not r.feasible:
                bar_.set_hatch("//")
                bar_.set_alpha(0.5)
        ax.set_xlabel(label)
    ax1.set_xlim(0, max(1, top[0].cells))
    ax2.set_xlim(0.5 * min(r.mean_auc for r in top), 1.0)
    ax1.set_yticks(y, [f"{i + 1}. {r.name}" for i, r in enumerate(top)], fontsize=7)
    for yy, r in zip(y, top):
        ax2.text(1.0, yy, f"  {r.cost.instructions_per_second / 1e6:.1f} M instr/s, "
                          f"{r.cost.flash_bytes / 1024:.0f} KB flash" + ("" if r.cost.supported else ", no C"),
                 va="center", fontsize=6)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    ax1.legend(handles, list(colours), fontsize=7, loc="lower right")
    fig.suptitle(title or "tune leaderboard (hatched: cannot win)", fontsize=10)
    return _save(fig, path)


def _write_outputs(out: Path, ranking: list, winner: CandidateResult, data: TuneData, config: TuneConfig,
                   models: list, timings: dict, reused: int) -> None:
    from pipeline import reports

    write_text_atomic(out / "leaderboard.csv", leaderboard_csv(ranking))
    plot_leaderboard(out / "leaderboard.png", ranking,
                     title=f"tune {config.machine}: {len(ranking)} candidates (hatched: cannot win)")
    cov = winner.coverage
    write_text_atomic(out / "predicted_coverage.json", json.dumps(cov, indent=2, sort_keys=True) + "\n")
    reports.plot_coverage(out / "coverage.png", cov, title=f"predicted coverage: {winner.name}")
    summary = {"config": config.to_dict(), "recordings": data.files, "segments": int(data.normal.shape[0]),
               "sample_rate": data.sample_rate, "folds": int(min(config.folds, np.unique(data.groups).size)),
               "fold_groups": "recordings" if len(data.files) >= config.folds else "blocks of contiguous segments",
               "models_fitted": len(models), "candidates": len(ranking), "reused_models": reused,
               "timings_s": timings,
               "winner": {"name": winner.name, "feature_config": winner.model.features.to_dict(),
                          "detector": winner.model.detector, "params": dict(winner.model.params),
                          "pooling": winner.pooling, "detected_cells": winner.detected_cells,
                          "cells": winner.cells, "mean_auc": winner.mean_auc,
                          "calibration": winner.calibration.to_dict(), "device_cost": winner.cost.to_dict()}}
    write_text_atomic(out / "tune.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    write_text_atomic(out / "report.md", tune_report(ranking, winner, data, config, models, timings, reused))


def tune_report(ranking: list, winner: CandidateResult, data: TuneData, config: TuneConfig, models: list,
                timings: dict, reused: int) -> str:
    """report.md: what was searched, how, and why the winner won."""
    from pipeline.reports import coverage_table

    cal = winner.calibration
    runner = next((r for r in ranking[1:] if r.feasible), None)
    fronts = {_mel_key(m.features) if m.features.kind != "vibration" else m.features for m in models}
    lines = [f"# tune: {config.machine}", "",
             f"- normal recordings: {len(data.files)} ({data.normal.shape[0]} segments of {config.segment_s:g} s "
             f"at {data.sample_rate} Hz, channel {config.channel})",
             f"- injected faults: {', '.join(config.faults)} at severities {list(config.severities)} into every "
             f"segment ({len(data.injected) * data.normal.shape[0]} injected segments, fault scale "
             f"`{config.fault_scale}`)",
             f"- cross-validation: {config.folds} folds over "
             + ("whole recordings" if len(data.files) >= config.folds else "blocks of contiguous segments")
             + ": no held-out segment overlaps a segment its model was fitted on",
             f"- searched: {len(models)} models x poolings = {len(ranking)} candidates; detectors "
             f"{', '.join(config.detectors)}; poolings of window scores {', '.join(POOLINGS)}; "
             f"{len(fronts)} front ends",
             f"- target false-positive rate {config.target_fpr:g}"
             + (f"; budget {config.to_dict()['budget']}" if config.budget is not None else "; no device budget"),
             f"- time: {', '.join(f'{k} {v:.1f} s' for k, v in timings.items())}"
             + (f"; {reused} models reused from an earlier run" if reused else ""), "",
             "## Winner", "", f"**{winner.name}**", "",
             f"- detected (fault, severity) cells: {winner.detected_cells} of {winner.cells}; mean cell AUC "
             f"{winner.mean_auc:.3f} (out of fold)",
             f"- threshold {cal.threshold:.6g} ({cal.method}) for a false-positive rate of {cal.target_fpr:g}; "
             f"{cal.false_positives} of {cal.normal_clips} out-of-fold normal segments above it; true rate within "
             f"[{cal.fpr_ci[0]:.3f}, {cal.fpr_ci[1]:.3f}] ({cal.confidence:.0%} Clopper-Pearson)",
             f"- device (estimate): flash {winner.cost.flash_bytes:,} B, RAM {winner.cost.ram_bytes:,} B, "
             f"{winner.cost.instructions_per_second / 1e6:.2f} M instructions per audio second; C runtime: "
             + ("yes" if winner.cost.supported else f"no ({winner.cost.reason})"),
             ]
    if runner is not None:
        lines.append(f"- why: ranked by detected cells, then mean AUC, then instructions; runner-up "
                     f"{runner.name} with {runner.detected_cells} cells, mean AUC {runner.mean_auc:.3f}")
    lines += ["", "## Predicted coverage of the winner", "",
              "Out-of-fold: faults injected into held-out segments against the held-out normal segments.", "",
              *coverage_table(winner.coverage), "", "![predicted coverage](coverage.png)", "",
              "## Leaderboard (top 15)", "", "| rank | candidate | detected cells | mean AUC | M instr/s | can win |",
              "|---|---|---|---|---|---|"]
    for i, r in enumerate(ranking[:15], 1):
        lines.append(f"| {i} | {r.name} | {r.detected_cells}/{r.cells} | {r.mean_auc:.3f} | "
                     f"{r.cost.instructions_per_second / 1e6:.2f} | {'yes' if r.feasible else 'no: ' + r.problem} |")
    lines += ["", "All candidates: `leaderboard.csv`; plot: ![leaderboard](leaderboard.png)", "",
              "The model is in `model/` (for `evaluate` and `export`). Its false-positive promise holds for "
              f"decisions on {config.segment_s:g}-s clips of this machine's normal sound."]
    return "\n".join(lines) + "\n"

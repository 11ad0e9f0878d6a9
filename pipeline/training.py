"""Training a detector on normal clips into a model bundle, and loading it back.

A model bundle is a folder::

    MODEL_DIR/bundle.json          what the model is, how to feed it, its threshold
    MODEL_DIR/detector/            the detector, as written by pipeline.detectors.save_detector
    MODEL_DIR/representative.npy   up to ~2000 raw training feature vectors (int8 calibration)

Score convention (one for the whole project): the anomaly score of a clip is
``-mean(detector.score_samples(frames))``, so *higher means more anomalous*, and a
clip is flagged anomalous when its anomaly score is strictly above the threshold.
The threshold is calibrated (:mod:`pipeline.calibration`) on out-of-fold
scores of every normal training clip: k-fold, each fold's clips scored by a
model fitted on the other folds, then the detector is refitted on all clips.
bundle.json records the calibration: the target false-positive rate, the
method (empirical quantile or gamma tail), and the Clopper-Pearson interval
of the false-positive rate behind the threshold.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from datasets.atomic import write_text_atomic
from datasets.records import ClipRecord
from errors import FaultsynthError
from provenance import canonical_hash, sha256_file, tree_hashes, version
from pipeline.calibration import MIN_CLIPS
from pipeline.clip_features import clip_features, resolve_feature_config

FORMAT_VERSION = 2
BUNDLE_NAME = "bundle.json"
DETECTOR_DIR = "detector"
REPRESENTATIVE_NAME = "representative.npy"
DETECTORS = ("kmeans", "autoencoder", "gaussian")
AGGREGATION = "mean"
THRESHOLD_CONVENTION = ("anomaly_score = -(aggregate, by default the mean, over the clip's feature vectors of "
                        "detector.score_samples) (higher = more anomalous); a clip is anomalous when "
                        "anomaly_score > threshold")


@dataclass(frozen=True)
class TrainConfig:
    """How to train one detector (validated here, in one place).

    Parameters
    ----------
    detector : {"kmeans", "autoencoder", "gaussian"}
    features : str
        Feature preset name (a key of ``pipeline.features.PRESETS``) or path of a
        JSON file holding ``FeatureConfig.to_dict()``; see
        :func:`pipeline.clip_features.resolve_feature_config`.
    seed : int
        Seeds the folds, clip selection and the detector.
    target_fpr : float
        False-positive rate (0 < fpr < 1) on fresh normal clips that the threshold is set for.
    folds : int
        Folds (>= 2) of the out-of-fold scores the threshold is calibrated on.
    detector_params : mapping
        Extra keyword arguments of ``pipeline.detectors.make_detector`` (e.g. ``epochs``).
    machine : str or None
        Keep only clips of this machine type.
    train_ids : tuple of str
        Keep only training clips of these machine ids (e.g. ``("id_00",)``); empty keeps all.
    train_count : int or None
        Use this many normal clips (seeded random choice) instead of all of them.
    layout : str
        Dataset layout passed to ``datasets.loaders.load_records``.
    max_representative : int
        Most raw feature vectors kept in ``representative.npy``.
    """

    detector: str
    features: str = "dcase"
    seed: int = 0
    target_fpr: float = 0.01
    folds: int = 5
    detector_params: Mapping[str, Any] = field(default_factory=dict)
    machine: str | None = None
    train_ids: tuple[str, ...] = ()
    train_count: int | None = None
    layout: str = "auto"
    max_representative: int = 2000
    feature_overrides: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise FaultsynthError(f"unknown detector {self.detector!r}: expected one of {', '.join(DETECTORS)}")
        if not (0.0 < float(self.target_fpr) < 1.0):
            raise FaultsynthError(f"target FPR must be within (0, 1), e.g. 0.01, got {self.target_fpr!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or not 0 <= self.seed < 2**63:
            raise FaultsynthError(f"seed must be a whole number in 0..{2**63 - 1}, got {self.seed!r}")
        if isinstance(self.folds, bool) or not isinstance(self.folds, (int, np.integer)) or self.folds < 2:
            raise FaultsynthError(f"folds must be a whole number >= 2, got {self.folds!r}")
        if self.train_count is not None and int(self.train_count) < MIN_CLIPS:
            raise FaultsynthError(f"train count must be at least {MIN_CLIPS} (the threshold is calibrated on "
                                  f"out-of-fold scores of the training clips), got {self.train_count}")
        if int(self.max_representative) < 1:
            raise FaultsynthError(f"max_representative must be positive, got {self.max_representative}")
        object.__setattr__(self, "train_ids", tuple(self.train_ids))
        object.__setattr__(self, "detector_params", dict(self.detector_params))
        object.__setattr__(self, "feature_overrides", dict(self.feature_overrides))
        if "sample_rate" in self.feature_overrides:
            raise FaultsynthError("the feature sample rate is the data's: do not override it")

    def to_dict(self) -> dict:
        """JSON-serialisable form (also what the config hash covers)."""
        return {"detector": self.detector, "features": self.features, "seed": int(self.seed),
                "target_fpr": float(self.target_fpr), "folds": int(self.folds),
                "detector_params": dict(self.detector_params), "machine": self.machine,
                "train_ids": list(self.train_ids), "train_count": self.train_count, "layout": self.layout,
                "max_representative": int(self.max_representative),
                "feature_overrides": dict(self.feature_overrides)}


# ---------------------------------------------------------------- selection and threshold

def select_training(records: Sequence[ClipRecord], config: TrainConfig) -> list[ClipRecord]:
    """The normal clips to train (and calibrate the threshold) on.

    Normal clips of the ``train`` split; if the dataset has none (MIMII-style
    folders with no split), any normal clip: then ``train_count`` or
    ``train_ids`` choose which, and evaluation skips the clips used here.

    Returns
    -------
    list of ClipRecord, sorted by path.
    """
    normals = [r for r in records if r.label == "normal"]
    if config.machine is not None:
        normals = [r for r in normals if r.machine.lower() == config.machine.lower()]
    if config.train_ids:
        known = sorted({r.machine_id for r in normals})
        unknown = [i for i in config.train_ids if i not in known]
        if unknown:
            raise FaultsynthError(f"train ids {unknown} not in the data: expected some of {known}")
        normals = [r for r in normals if r.machine_id in config.train_ids]
    pool = [r for r in normals if r.split == "train"] or normals
    pool = sorted(pool, key=lambda r: (r.root, r.path))
    if config.train_count is not None:
        if config.train_count > len(pool):
            raise FaultsynthError(f"train count {config.train_count} exceeds the {len(pool)} normal clips available")
        rng = np.random.default_rng(np.random.SeedSequence([int(config.seed), 1]))
        chosen = np.sort(rng.permutation(len(pool))[: int(config.train_count)])
        pool = [pool[i] for i in chosen]
    if len(pool) < MIN_CLIPS:
        raise FaultsynthError(f"found {len(pool)} normal training clip(s): expected at least {MIN_CLIPS} "
                              "(out-of-fold scores of every clip set the threshold)")
    return pool


def clip_groups(records: Sequence[ClipRecord], *, folds: int) -> np.ndarray:
    """Fold group of each training clip: its source recording when there are enough recordings, else itself.

    Clips cut from one recording (``inject``) stay in one fold when the
    recordings are at least ``folds``; otherwise every clip is its own group
    (segments never overlap, so a held-out clip never shares samples with a fitted one).

    Returns
    -------
    ndarray, shape (n_clips,), int
    """
    from pipeline.leakage import clip_span

    sources = [clip_span(r)[0] for r in records]
    if len(set(sources)) >= folds:
        index = {s: i for i, s in enumerate(sorted(set(sources)))}
        return np.array([index[s] for s in sources])
    return np.arange(len(records))


def out_of_fold_scores(config: TrainConfig, clips: Sequence[np.ndarray], groups: np.ndarray) -> np.ndarray:
    """Anomaly score of every clip from a detector fitted on the other folds.

    Parameters
    ----------
    config : TrainConfig
    clips : sequence of ndarray, each (n_vectors, dim)
    groups : ndarray, shape (n_clips,)
        See :func:`clip_groups`.

    Returns
    -------
    ndarray, shape (n_clips,), float64
    """
    from pipeline.calibration import fold_indices
    from pipeline.detectors import clip_scores

    scores = np.full(len(clips), np.nan)
    for held in fold_indices(groups, folds=config.folds, seed=config.seed):
        fit = np.setdiff1d(np.arange(len(clips)), held)
        detector = _make(config).fit(np.concatenate([clips[i] for i in fit], axis=0))
        scores[held] = -np.asarray(clip_scores(detector, [clips[i] for i in held]))
    return scores


def _detector_params(config: TrainConfig) -> dict:
    """Detector keywords, seeded."""
    from pipeline.detectors import seeded_params

    return seeded_params(config.detector, config.detector_params, seed=config.seed)


def _make(config: TrainConfig):
    from pipeline.detectors import make_detector

    try:
        return make_detector(config.detector, **_detector_params(config))
    except TypeError as exc:
        raise FaultsynthError(f"bad parameters for detector {config.detector!r}: {exc}") from None


# ---------------------------------------------------------------- the bundle

@dataclass(frozen=True)
class Bundle:
    """A trained model as loaded from MODEL_DIR (see :func:`load_bundle`).

    Attributes
    ----------
    path : Path
    feature_config : pipeline.features.FeatureConfig
    detector : object
        Fitted detector (scikit-learn outlier conventions).
    detector_name : str
    threshold : float
        Anomalous when anomaly score > threshold.
    target_fpr : float
    meta : dict
        The whole bundle.json.
    """

    path: Path
    feature_config: Any
    detector: Any
    detector_name: str
    threshold: float
    target_fpr: float
    meta: dict

    @property
    def train_files(self) -> set[str]:
        """Absolute resolved paths of the clips used in training and calibration."""
        return set(self.meta.get("train_summary", {}).get("clip_files", []))

    @property
    def train_spans(self) -> list[tuple[str, float, float]]:
        """(source recording, start s, end s) of every training clip (see pipeline.leakage)."""
        return [tuple(s) for s in self.meta.get("train_summary", {}).get("spans", [])]

    @property
    def calibration(self) -> dict:
        """The threshold's calibration (pipeline.calibration.Calibration as a dict)."""
        return dict(self.meta.get("calibration", {}))

    def score_features(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """Anomaly score per clip from its feature vectors.

        Parameters
        ----------
        clips : sequence of ndarray, each (n_vectors, dim), float32

        Returns
        -------
        ndarray, shape (n_clips,), float64; higher = more anomalous.
        """
        from pipeline.detectors import clip_scores

        dim = self.meta.get("feature_dim")
        for vectors in clips:
            if dim is not None and vectors.shape[1] != int(dim):
                raise FaultsynthError(f"feature vectors have {vectors.shape[1]} values, but the model was "
                                      f"trained on {dim}: the feature config does not match the model")
        scores = -np.asarray(clip_scores(self.detector, list(clips)), dtype=np.float64)
        if scores.shape != (len(clips),) or not np.all(np.isfinite(scores)):
            raise FaultsynthError("the detector returned missing or non-finite clip scores")
        return scores

    def score_clips(self, records: Sequence[ClipRecord], *, advance: Callable[[], None] | None = None,
                    cache: dict | None = None) -> np.ndarray:
        """Anomaly score per clip (higher = more anomalous; anomalous when > threshold).

        Parameters
        ----------
        records : sequence of ClipRecord
            Must match the model's sample rate and channel, else FaultsynthError.
        advance : callable, optional
            Called once per clip.
        cache : dict, optional
            Feature cache (see :func:`pipeline.clip_features.clip_features`).

        Returns
        -------
        ndarray, shape (n_clips,), float64
        """
        return self.score_features(clip_features(records, self.feature_config, advance=advance, cache=cache))

    def is_anomalous(self, scores: np.ndarray) -> np.ndarray:
        """Boolean decision per clip: ``scores > threshold``."""
        return np.asarray(scores) > self.threshold


def _bundle_fingerprint(meta: Mapping[str, Any]) -> str:
    """Hash of everything in bundle.json that must agree with the files beside it."""
    keys = ("format_version", "feature_config", "detector", "detector_params", "threshold", "target_fpr", "calibration",
            "aggregation", "feature_dim", "detector_files", "representative_sha256")
    return canonical_hash({k: meta.get(k) for k in keys})


def load_bundle(model_dir: str | Path) -> Bundle:
    """Load and verify a model bundle.

    Raises FaultsynthError if bundle.json is missing, of another format version,
    or stale (edited, or the detector files changed after it was written).
    """
    from pipeline.detectors import load_detector
    from pipeline.features import FeatureConfig

    model_dir = Path(model_dir)
    meta_path = model_dir / BUNDLE_NAME
    if not meta_path.is_file():
        raise FaultsynthError(f"{model_dir}: no {BUNDLE_NAME}: expected a model folder written by "
                              "`train` (was training interrupted?)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FaultsynthError(f"{meta_path} is not valid JSON ({exc}): retrain the model") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise FaultsynthError(f"{meta_path}: format version {meta.get('format_version')!r}, expected "
                              f"{FORMAT_VERSION}: retrain the model with this faultsynth")
    if meta.get("fingerprint") != _bundle_fingerprint(meta):
        raise FaultsynthError(f"{meta_path} was edited after training: its contents no longer match its "
                              "fingerprint; retrain the model")
    detector_dir = model_dir / DETECTOR_DIR
    if not detector_dir.is_dir() or tree_hashes(detector_dir) != meta.get("detector_files"):
        raise FaultsynthError(f"{model_dir}: the detector files do not match {BUNDLE_NAME} (stale or partly "
                              "written bundle): retrain the model")
    try:
        feature_config = FeatureConfig.from_dict(meta["feature_config"])
    except (TypeError, KeyError, ValueError) as exc:
        raise FaultsynthError(f"{meta_path}: invalid feature_config ({exc})") from None
    try:
        threshold, target_fpr = float(meta["threshold"]), float(meta["target_fpr"])
    except (TypeError, KeyError, ValueError) as exc:
        raise FaultsynthError(f"{meta_path}: invalid threshold or target_fpr ({exc}): retrain the model") from None
    if not (np.isfinite(threshold) and 0.0 < target_fpr < 1.0):
        raise FaultsynthError(f"{meta_path}: threshold {threshold!r} and target FPR {target_fpr!r}: expected a "
                              "finite threshold and a rate in (0, 1); retrain the model")
    try:
        detector = load_detector(detector_dir)
    except FaultsynthError:
        raise
    except Exception as exc:  # a corrupt model file makes the model library raise anything
        raise FaultsynthError(f"{detector_dir}: cannot load the saved detector ({type(exc).__name__}: {exc}); "
                              "retrain the model") from None
    return Bundle(path=model_dir, feature_config=feature_config, detector=detector,
                  detector_name=str(meta["detector"]), threshold=threshold, target_fpr=target_fpr, meta=meta)


def _source_counts(records: Sequence[ClipRecord]) -> dict[str, int]:
    counts = {"real": 0, "synthetic": 0, "mixed": 0}
    for record in records:
        counts[record.source] = counts.get(record.source, 0) + 1
    return counts


def write_bundle(out_dir: str | Path, *, detector, detector_name: str, detector_params: Mapping[str, Any],
                 feature_config, calibration, train_summary: Mapping[str, Any], train_config: Mapping[str, Any],
                 representative: np.ndarray, seed: int, max_representative: int = 2000) -> Bundle:
    """Write a fitted detector and its calibrated threshold as a model bundle.

    Parameters
    ----------
    out_dir : path
        MODEL_DIR; bundle.json is removed first and written last, so an
        interrupted run never leaves a loadable half-bundle.
    detector : fitted detector (pipeline.detectors)
    detector_name : str
    detector_params : mapping
        ``make_detector`` keywords it was built with.
    feature_config : pipeline.features.FeatureConfig
    calibration : pipeline.calibration.Calibration
    train_summary : mapping
        What it was trained on (clips, vectors, machines, sample_rate, data,
        sources, clip_files, spans, clip_duration_s).
    train_config : mapping
        Recorded as given.
    representative : ndarray, shape (n_vectors, dim)
        Training vectors; a seeded sample of at most ``max_representative`` is kept (int8 calibration).
    seed : int

    Returns
    -------
    Bundle
    """
    from pipeline.detectors import save_detector

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / BUNDLE_NAME).unlink(missing_ok=True)
    detector_dir = out_dir / DETECTOR_DIR
    if detector_dir.exists():
        shutil.rmtree(detector_dir)
    save_detector(detector, detector_dir)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 3]))
    keep = np.sort(rng.choice(representative.shape[0], size=min(representative.shape[0], int(max_representative)),
                              replace=False))
    np.save(out_dir / REPRESENTATIVE_NAME, representative[keep].astype(np.float32))
    meta = {
        "format_version": FORMAT_VERSION,
        "feature_config": feature_config.to_dict(),
        "detector": detector_name,
        "detector_params": dict(detector_params),
        "threshold": float(calibration.threshold),
        "threshold_convention": THRESHOLD_CONVENTION,
        "target_fpr": float(calibration.target_fpr),
        "calibration": calibration.to_dict(),
        "aggregation": str(getattr(detector, "aggregate", AGGREGATION)),
        "feature_dim": int(representative.shape[1]),
        "train_summary": dict(train_summary),
        "train_config": dict(train_config),
        "created_with": f"faultsynth {version()}",
        "detector_files": tree_hashes(detector_dir),
        "representative_sha256": sha256_file(out_dir / REPRESENTATIVE_NAME),
    }
    meta["fingerprint"] = _bundle_fingerprint(meta)
    write_text_atomic(out_dir / BUNDLE_NAME, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return Bundle(path=out_dir, feature_config=feature_config, detector=detector, detector_name=detector_name,
                  threshold=float(calibration.threshold), target_fpr=float(calibration.target_fpr), meta=meta)


def train_bundle(config: TrainConfig, *, records: Sequence[ClipRecord], out_dir: str | Path,
                 data_path: str | Path = "", progress: Any = None, cache: dict | None = None) -> Bundle:
    """Train a detector on the normal training clips of ``records`` and write its bundle.

    The threshold is calibrated on out-of-fold scores of every selected clip
    (:func:`out_of_fold_scores`), then the detector is refitted on all of them.

    Parameters
    ----------
    config : TrainConfig
    records : sequence of ClipRecord
        The whole dataset (training clips are selected by :func:`select_training`).
    out_dir : path
        MODEL_DIR (see :func:`write_bundle`).
    data_path : path
        Recorded in the train summary.
    progress : rich.progress.Progress, optional
        Shows feature extraction per clip.
    cache : dict, optional
        Feature cache (see :func:`pipeline.clip_features.clip_features`).

    Returns
    -------
    Bundle
    """
    from pipeline.calibration import calibrate
    from pipeline.leakage import clip_span

    chosen = select_training(records, config)
    rates = sorted({int(r.sample_rate) for r in chosen})
    if len(rates) != 1:
        raise FaultsynthError(f"training clips have several sample rates {rates}: expected one "
                              "(select a machine with --machine, or resample the data)")
    feature_config = resolve_feature_config(config.features, sample_rate=rates[0],
                                            overrides=config.feature_overrides)
    advance = None
    if progress is not None:
        task = progress.add_task(f"features ({config.detector})", total=len(chosen))
        advance = lambda: progress.advance(task)  # noqa: E731
    clips = clip_features(chosen, feature_config, advance=advance, cache=cache)
    oof = out_of_fold_scores(config, clips, clip_groups(chosen, folds=config.folds))
    calibration = calibrate(oof, target_fpr=config.target_fpr)
    fit_x = np.concatenate(clips, axis=0)
    detector = _make(config).fit(fit_x)
    durations = sorted({round(float(r.duration_s), 6) for r in chosen})
    summary = {
        "clips": len(chosen), "vectors": int(fit_x.shape[0]),
        "machines": sorted({f"{r.machine}/{r.machine_id}" for r in chosen}),
        "sample_rate": rates[0], "data": str(Path(data_path).resolve()) if data_path else "",
        "sources": _source_counts(chosen),
        "clip_files": sorted(str(r.file.resolve()) for r in chosen),
        "spans": [list(clip_span(r)) for r in chosen],
        "clip_duration_s": durations[0] if len(durations) == 1 else None,
        "out_of_fold_score_mean": float(oof.mean()), "out_of_fold_score_max": float(oof.max()),
    }
    return write_bundle(out_dir, detector=detector, detector_name=config.detector,
                        detector_params=_detector_params(config), feature_config=feature_config,
                        calibration=calibration, train_summary=summary, train_config=config.to_dict(),
                        representative=fit_x, seed=config.seed, max_representative=config.max_representative)


def train(config: TrainConfig, *, data: str | Path, out_dir: str | Path, progress: Any = None,
          overwrite: bool = False) -> Bundle:
    """Load the dataset at ``data`` and train (see :func:`train_bundle`).

    The bundle is built beside ``out_dir`` and replaces it only when complete
    (:func:`datasets.output_folder.replaced_folder`): a folder that holds
    something else than a model is refused unless ``overwrite``.
    """
    from datasets.loaders import load_records
    from datasets.output_folder import replaced_folder

    records = load_records(data, layout=config.layout, machine=config.machine)
    if not records:
        raise FaultsynthError(f"{data}: no clips found (layout {config.layout!r})")
    with replaced_folder(out_dir, marker=BUNDLE_NAME, overwrite=overwrite) as staging:
        train_bundle(config, records=records, out_dir=staging, data_path=data, progress=progress)
    return load_bundle(out_dir)

"""Training a detector on normal clips into a model bundle, and loading it back.

A model bundle is a folder::

    MODEL_DIR/bundle.json          what the model is, how to feed it, its threshold
    MODEL_DIR/detector/            the detector, as written by pipeline.detectors.save_detector
    MODEL_DIR/representative.npy   up to ~2000 raw training feature vectors (int8 calibration)

Score convention (one for the whole project): the anomaly score of a clip is
``-mean(detector.score_samples(frames))``, so *higher means more anomalous*, and a
clip is flagged anomalous when its anomaly score is strictly above the threshold.
The threshold is the smallest value exceeded by at most ``target_fpr`` of the
held-out normal validation clips.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from datasets.atomic import write_text_atomic
from datasets.loaders import sha256_file
from datasets.records import ClipRecord
from errors import FaultsynthError

FORMAT_VERSION = 1
BUNDLE_NAME = "bundle.json"
DETECTOR_DIR = "detector"
REPRESENTATIVE_NAME = "representative.npy"
DETECTORS = ("kmeans", "autoencoder", "gaussian")
AGGREGATION = "mean"
THRESHOLD_CONVENTION = ("anomaly_score = -(aggregate, by default the mean, over the clip's feature vectors of "
                        "detector.score_samples) (higher = more anomalous); a clip is anomalous when "
                        "anomaly_score > threshold")
#: Feature preset names accepted by --features, mapped to pipeline.features attributes.
FEATURE_PRESETS = {"dcase": "DCASE_BASELINE", "tinyml": "TINYML"}


@dataclass(frozen=True)
class TrainConfig:
    """How to train one detector (validated here, in one place).

    Parameters
    ----------
    detector : {"kmeans", "autoencoder", "gaussian"}
    features : str
        Feature preset name (``"dcase"``, ``"tinyml"``) or path of a JSON file
        holding ``FeatureConfig.to_dict()``.
    seed : int
        Seeds the train/validation split, clip selection and the detector.
    target_fpr : float
        False-positive rate (0 < fpr < 1) on normal validation clips that sets the threshold.
    validation_fraction : float
        Share (0 < f < 1) of the selected normal clips held out for the threshold; at least one clip.
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
    validation_fraction: float = 0.2
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
        if not (0.0 < float(self.validation_fraction) < 1.0):
            raise FaultsynthError(
                f"validation fraction must be within (0, 1), e.g. 0.2, got {self.validation_fraction!r}")
        if self.train_count is not None and int(self.train_count) < 2:
            raise FaultsynthError(f"train count must be at least 2 (training + validation), got {self.train_count}")
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
                "target_fpr": float(self.target_fpr), "validation_fraction": float(self.validation_fraction),
                "detector_params": dict(self.detector_params), "machine": self.machine,
                "train_ids": list(self.train_ids), "train_count": self.train_count, "layout": self.layout,
                "max_representative": int(self.max_representative),
                "feature_overrides": dict(self.feature_overrides)}


def canonical_hash(obj: Any) -> str:
    """sha256 of the canonical JSON form of ``obj`` (sorted keys)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tree_hashes(folder: Path) -> dict[str, str]:
    """Relative POSIX path -> sha256 of every file under ``folder`` (sorted)."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): sha256_file(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def faultsynth_version() -> str:
    """Installed faultsynth version, or "unknown"."""
    from importlib import metadata

    try:
        return metadata.version("faultsynth")
    except metadata.PackageNotFoundError:
        pass
    import tomllib

    try:  # running from the source tree
        project = Path(__file__).resolve().parents[1] / "pyproject.toml"
        return str(tomllib.loads(project.read_text(encoding="utf-8"))["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


# ---------------------------------------------------------------- features

def feature_presets() -> dict:
    """Preset name -> FeatureConfig: ``pipeline.features.PRESETS`` if it exists, else FEATURE_PRESETS."""
    from pipeline import features as feat

    presets = getattr(feat, "PRESETS", None)
    if isinstance(presets, Mapping) and presets:
        return dict(presets)
    return {name: getattr(feat, attr) for name, attr in FEATURE_PRESETS.items() if hasattr(feat, attr)}


def resolve_feature_config(features: str, *, sample_rate: int, overrides: Mapping[str, Any] | None = None):
    """The FeatureConfig named by ``features``, adapted to ``sample_rate``.

    Parameters
    ----------
    features : str
        A preset name (see ``FEATURE_PRESETS``) or a path to a JSON file of
        ``FeatureConfig.to_dict()``.
    sample_rate : int
        Hz, of the training data. A preset is re-targeted to it (``fmax_hz``
        capped at Nyquist); a JSON config must already match it.
    overrides : mapping, optional
        FeatureConfig fields replaced after that (e.g. ``{"kind": "vibration", "n_mels": 16}``).

    Returns
    -------
    pipeline.features.FeatureConfig
    """
    from pipeline import features as feat

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
        config = feat.FeatureConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError, KeyError) as exc:
        raise FaultsynthError(f"{path}: not a valid FeatureConfig JSON ({exc})") from None
    if int(config.sample_rate) != int(sample_rate):
        raise FaultsynthError(f"{path}: feature config expects {config.sample_rate} Hz audio, "
                              f"but the training data is sampled at {sample_rate} Hz")
    return _override(config, overrides)


def _override(config, overrides: Mapping[str, Any] | None):
    """``config`` with some fields replaced; unknown field names raise."""
    if not overrides:
        return config
    known = set(config.to_dict())
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise FaultsynthError(f"unknown feature settings {unknown}: expected some of {sorted(known)}")
    return replace(config, **dict(overrides))


def check_compatible(records: Sequence[ClipRecord], feature_config) -> None:
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


def clip_features(records: Sequence[ClipRecord], feature_config, *,
                  advance: Callable[[], None] | None = None, cache: dict | None = None) -> list[np.ndarray]:
    """Feature vectors of each clip.

    Parameters
    ----------
    records : sequence of ClipRecord
    feature_config : pipeline.features.FeatureConfig
    advance : callable, optional
        Called once per clip (progress reporting).
    cache : dict, optional
        Reuses and stores vectors keyed by (feature config, file, sha256), so that
        several detectors on the same clips extract features once (one process).

    Returns
    -------
    list of ndarray, each shape (n_vectors, dim), float32
    """
    from datasets.audio import load_audio
    from pipeline.features import extract

    check_compatible(records, feature_config)
    config_key = canonical_hash(feature_config.to_dict())
    out = []
    for record in records:
        key = (config_key, str(record.file), record.sha256)
        if cache is not None and key in cache:
            out.append(cache[key])
            if advance is not None:
                advance()
            continue
        y = load_audio(record, channel=None)  # (n_samples, channels); extract picks the channel
        vectors = np.asarray(extract(feature_config, y), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] == 0:
            raise FaultsynthError(f"{record.path}: gave no feature vectors: expected a clip longer than "
                                  "one feature window")
        if not np.all(np.isfinite(vectors)):
            raise FaultsynthError(f"{record.path}: its features contain NaN or infinity")
        out.append(vectors)
        if cache is not None:
            cache[key] = vectors
        if advance is not None:
            advance()
    return out


# ---------------------------------------------------------------- selection and threshold

def select_training(records: Sequence[ClipRecord], config: TrainConfig) -> list[ClipRecord]:
    """The normal clips to train (and validate) on.

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
    if len(pool) < 2:
        raise FaultsynthError(f"found {len(pool)} normal training clip(s): expected at least 2 "
                              "(one to fit, one to set the threshold)")
    return pool


def split_validation(n_clips: int, *, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (fit, validation) of a seeded random hold-out; both non-empty."""
    n_val = min(max(1, int(round(fraction * n_clips))), n_clips - 1)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 2]))
    order = rng.permutation(n_clips)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def threshold_at_fpr(normal_scores: np.ndarray, *, target_fpr: float) -> float:
    """Smallest threshold that at most ``target_fpr`` of ``normal_scores`` exceed.

    Parameters
    ----------
    normal_scores : ndarray, shape (n,)
        Anomaly scores (higher = more anomalous) of normal validation clips.
    target_fpr : float
        In (0, 1). With ``n`` clips the achievable rates are multiples of 1/n;
        ``floor(target_fpr * n)`` clips may lie above the threshold.

    Returns
    -------
    float
    """
    scores = np.sort(np.asarray(normal_scores, dtype=np.float64))
    if scores.size == 0 or not np.all(np.isfinite(scores)):
        raise FaultsynthError("threshold needs at least one finite normal validation score")
    allowed_above = int(np.floor(float(target_fpr) * scores.size + 1e-9))
    return float(scores[scores.size - 1 - allowed_above])


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
        """Absolute resolved paths of the clips used in training and validation."""
        return set(self.meta.get("train_summary", {}).get("clip_files", []))

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
            Feature cache (see :func:`clip_features`).

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
    keys = ("format_version", "feature_config", "detector", "detector_params", "threshold", "target_fpr",
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
    return Bundle(path=model_dir, feature_config=feature_config, detector=load_detector(detector_dir),
                  detector_name=str(meta["detector"]), threshold=float(meta["threshold"]),
                  target_fpr=float(meta["target_fpr"]), meta=meta)


def _source_counts(records: Sequence[ClipRecord]) -> dict[str, int]:
    counts = {"real": 0, "synthetic": 0, "mixed": 0}
    for record in records:
        counts[record.source] = counts.get(record.source, 0) + 1
    return counts


def train_bundle(config: TrainConfig, *, records: Sequence[ClipRecord], out_dir: str | Path,
                 data_path: str | Path = "", progress: Any = None, cache: dict | None = None) -> Bundle:
    """Train a detector on the normal training clips of ``records`` and write its bundle.

    Parameters
    ----------
    config : TrainConfig
    records : sequence of ClipRecord
        The whole dataset (training clips are selected by :func:`select_training`).
    out_dir : path
        MODEL_DIR; bundle.json is removed first and written last, so an
        interrupted run never leaves a loadable half-bundle.
    data_path : path
        Recorded in the train summary.
    progress : rich.progress.Progress, optional
        Shows feature extraction per clip.
    cache : dict, optional
        Feature cache (see :func:`clip_features`).

    Returns
    -------
    Bundle
    """
    from pipeline.detectors import DETECTORS as DETECTOR_CLASSES
    from pipeline.detectors import make_detector, save_detector

    out_dir = Path(out_dir)
    chosen = select_training(records, config)
    rates = sorted({int(r.sample_rate) for r in chosen})
    if len(rates) != 1:
        raise FaultsynthError(f"training clips have several sample rates {rates}: expected one "
                              "(select a machine with --machine, or resample the data)")
    feature_config = resolve_feature_config(config.features, sample_rate=rates[0],
                                            overrides=config.feature_overrides)
    fit_idx, val_idx = split_validation(len(chosen), fraction=config.validation_fraction, seed=config.seed)

    advance = None
    if progress is not None:
        task = progress.add_task(f"features ({config.detector})", total=len(chosen))
        advance = lambda: progress.advance(task)  # noqa: E731
    clips = clip_features(chosen, feature_config, advance=advance, cache=cache)
    fit_x = np.concatenate([clips[i] for i in fit_idx], axis=0)

    params = dict(config.detector_params)
    if "random_state" in DETECTOR_CLASSES[config.detector]().get_params():
        params.setdefault("random_state", int(config.seed))
    try:
        detector = make_detector(config.detector, **params)
    except TypeError as exc:
        raise FaultsynthError(f"bad parameters for detector {config.detector!r}: {exc}") from None
    detector.fit(fit_x)

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / BUNDLE_NAME).unlink(missing_ok=True)
    detector_dir = out_dir / DETECTOR_DIR
    if detector_dir.exists():
        shutil.rmtree(detector_dir)
    save_detector(detector, detector_dir)

    rng = np.random.default_rng(np.random.SeedSequence([int(config.seed), 3]))
    keep = np.sort(rng.choice(fit_x.shape[0], size=min(fit_x.shape[0], int(config.max_representative)),
                              replace=False))
    np.save(out_dir / REPRESENTATIVE_NAME, fit_x[keep].astype(np.float32))

    provisional = Bundle(path=out_dir, feature_config=feature_config, detector=detector,
                         detector_name=config.detector, threshold=float("nan"),
                         target_fpr=float(config.target_fpr), meta={"feature_dim": int(fit_x.shape[1])})
    fit_scores = provisional.score_features([clips[i] for i in fit_idx])
    val_scores = provisional.score_features([clips[i] for i in val_idx])
    threshold = threshold_at_fpr(val_scores, target_fpr=config.target_fpr)

    meta = {
        "format_version": FORMAT_VERSION,
        "feature_config": feature_config.to_dict(),
        "detector": config.detector,
        "detector_params": params,
        "threshold": threshold,
        "threshold_convention": THRESHOLD_CONVENTION,
        "target_fpr": float(config.target_fpr),
        "aggregation": str(getattr(detector, "aggregate", AGGREGATION)),
        "feature_dim": int(fit_x.shape[1]),
        "validation": {
            "clips": int(val_idx.size),
            "fpr_at_threshold": float(np.mean(val_scores > threshold)),
            "fpr_resolution": 1.0 / val_idx.size,
            "score_mean": float(val_scores.mean()), "score_max": float(val_scores.max()),
            "fit_score_mean": float(fit_scores.mean()),
        },
        "train_summary": {
            "clips": int(fit_idx.size), "validation_clips": int(val_idx.size),
            "vectors": int(fit_x.shape[0]),
            "machines": sorted({f"{r.machine}/{r.machine_id}" for r in chosen}),
            "sample_rate": rates[0], "data": str(Path(data_path).resolve()) if data_path else "",
            "sources": _source_counts(chosen),
            "clip_files": sorted(str(r.file.resolve()) for r in chosen),
        },
        "train_config": config.to_dict(),
        "created_with": f"faultsynth {faultsynth_version()}",
        "detector_files": tree_hashes(detector_dir),
        "representative_sha256": sha256_file(out_dir / REPRESENTATIVE_NAME),
    }
    meta["fingerprint"] = _bundle_fingerprint(meta)
    write_text_atomic(out_dir / BUNDLE_NAME, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return replace(provisional, threshold=threshold, meta=meta)


def train(config: TrainConfig, *, data: str | Path, out_dir: str | Path, progress: Any = None) -> Bundle:
    """Load the dataset at ``data`` and train (see :func:`train_bundle`)."""
    from datasets.loaders import load_records

    records = load_records(data, layout=config.layout, machine=config.machine)
    if not records:
        raise FaultsynthError(f"{data}: no clips found (layout {config.layout!r})")
    return train_bundle(config, records=records, out_dir=out_dir, data_path=data, progress=progress)

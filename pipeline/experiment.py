"""Fault-injection experiments: normal data + faults over a severity grid -> both detectors -> coverage.

Stages (each in its own folder under the experiment's output folder)::

    data/               the dataset (synthesised, or real normal clips with injected faults)
    models/<detector>/  model bundles (pipeline.training)
    eval/<detector>/    evaluations (pipeline.evaluate)
    report.md, coverage_side_by_side.png, experiment.json

A finished stage records ``.stages/<stage>.json``: the hash of its
configuration (which includes the hashes of the stages it depends on) and the
sha256 of every file it wrote. On a rerun a stage is reused only if both still
match; otherwise its folder is deleted and the stage is redone, so a model is
never reused after its configuration changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from datasets.atomic import write_text_atomic
from datasets.plan import DatasetPlan
from errors import FaultsynthError
from pipeline.features import FeatureConfig
from pipeline.training import DETECTORS, TrainConfig
from provenance import canonical_hash, tree_hashes

SOURCES = ("synthetic", "real")
STAGES_DIR = ".stages"

#: Allowed keys of each TOML table (one place for validation).
_TOP_KEYS = {"name", "seed", "data", "faults", "features", "training", "detectors"}
_DATA_KEYS = {"source", "machine", "machine_id", "count", "duration_s", "sample_rate", "fixed",
              "path", "layout", "channel", "fault_scale", "per_clip"}
_FAULT_KEYS = {"types", "severities"}
#: [features]: a preset and any FeatureConfig field but the sample rate (the data's).
_FEATURE_KEYS = {f.name for f in dataclasses.fields(FeatureConfig)} - {"sample_rate"} | {"preset"}
_TRAINING_KEYS = {"target_fpr", "folds"}


@dataclass(frozen=True, kw_only=True)
class ExperimentSpec(DatasetPlan):
    """A fault-injection experiment, validated on construction.

    Parameters
    ----------
    name : str
    machine : str
        Generator machine whose faults are synthesised (and whose normal clips,
        for ``source="synthetic"``).
    faults : tuple of str
        Fault types of that machine.
    severities : tuple of float
        Severity grid, each in (0, 1], increasing.
    source : {"synthetic", "real"}
        Normal data: synthesised, or real recordings from ``real_path`` with
        the faults injected by ``datasets.blend``.
    count : int
        Clips per class (normal train, normal test, each fault x severity).
    duration_s : float
        Synthetic clip length, seconds.
    sample_rate : int or None
        Hz; None = the machine's default (synthetic only).
    seed : int
    machine_id : str
    fixed : dict
        Fixed physical parameters of the generator (e.g. ``{"rpm": 1797}``).
    real_path, real_layout : str
        Real normal recordings (``source="real"``): a file, folder or dataset, and its layout.
    channel : int or str
        Channel of multi-channel real recordings (a CWRU name such as "DE" too).
    fault_scale : {"machine", "absolute"}
        How injected faults are scaled (see datasets.blend): relative to the
        real clip as the generator's fault to its machine, or in the generator's units.
    per_clip : bool
        Draw every generator parameter per clip (domain randomisation) instead of one
        machine per id (:mod:`generators.identity`).
    features : str
        Feature preset (see pipeline.clip_features.resolve_feature_config).
    feature_overrides : dict
        FeatureConfig fields replacing the preset's (e.g. ``kind = "vibration"``).
    target_fpr : float
        As pipeline.training.TrainConfig.
    folds : int
        Folds of the out-of-fold threshold calibration (pipeline.training.TrainConfig).
    detectors : dict
        Detector name -> its parameters (``make_detector`` keywords), run in this order.
    """

    name: str
    faults: tuple[str, ...] = field()  # field(): required here, unlike in DatasetPlan
    severities: tuple[float, ...] = field()
    duration_s: float = 2.0
    source: str = "synthetic"
    real_path: str | None = None
    real_layout: str = "auto"
    channel: int | str = 0
    fault_scale: str = "machine"
    features: str = "dcase"
    feature_overrides: Mapping[str, Any] = field(default_factory=dict)
    target_fpr: float = 0.01
    folds: int = 5
    detectors: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: {"kmeans": {}, "autoencoder": {}})

    def __post_init__(self) -> None:
        from generators.base import check_fault, check_severity
        from generators.registry import get_machine

        if not self.name or not isinstance(self.name, str):
            raise FaultsynthError("experiment name must be a non-empty string")
        if self.source not in SOURCES:
            raise FaultsynthError(f"data source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        machine = get_machine(self.machine)
        if not self.faults:
            raise FaultsynthError("no fault types listed: expected [faults] types = [...]")
        for fault in self.faults:
            if fault == "none":
                raise FaultsynthError("'none' is not a fault type: normal clips are always included")
            check_fault(machine, fault)
        if len(set(self.faults)) != len(self.faults):
            raise FaultsynthError(f"fault types listed twice: {list(self.faults)}")
        if not self.severities:
            raise FaultsynthError("no severities: expected [faults] severities = [0.1, 0.3, ...]")
        for s in self.severities:
            if isinstance(s, bool) or not isinstance(s, (int, float)):
                raise FaultsynthError(f"severity {s!r} is not a number: expected values in (0, 1]")
            if check_severity(s) == 0.0:
                raise FaultsynthError("severity 0 is a normal clip: expected severities in (0, 1]")
        if list(self.severities) != sorted(set(self.severities)):
            raise FaultsynthError(f"severities must be increasing without repeats, got {list(self.severities)}")
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 2:
            raise FaultsynthError(f"count must be a whole number >= 2 (clips per class), got {self.count!r}")
        if not (isinstance(self.duration_s, (int, float)) and math.isfinite(self.duration_s)
                and self.duration_s > 0):
            raise FaultsynthError(f"duration_s must be a positive number of seconds, got {self.duration_s!r}")
        if self.sample_rate is not None and (isinstance(self.sample_rate, bool)
                                             or not isinstance(self.sample_rate, int) or self.sample_rate <= 0):
            raise FaultsynthError(f"sample_rate must be a positive whole number of Hz, got {self.sample_rate!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise FaultsynthError(f"seed must be a whole number >= 0, got {self.seed!r}")
        if self.source == "real" and not self.real_path:
            raise FaultsynthError("data source 'real' needs [data] path = the folder of real normal recordings")
        if self.source == "synthetic" and self.real_path:
            raise FaultsynthError("[data] path is only for source = 'real'")
        if self.source == "real":
            self.inject_config()  # validates channel, fault_scale and the rest as datasets.blend sees them
        if self.source == "synthetic":
            from pipeline.clip_features import resolve_feature_config

            resolve_feature_config(self.features, sample_rate=self.sample_rate or machine.default_sample_rate,
                                   overrides=self.feature_overrides)
        if not self.detectors:
            raise FaultsynthError(f"no detectors: expected [detectors.<name>] tables, names in {DETECTORS}")
        for det, params in self.detectors.items():
            if not isinstance(params, Mapping):
                raise FaultsynthError(f"[detectors.{det}] must be a table of parameters")
            # TrainConfig validates the detector name, target FPR and validation fraction;
            # make_detector the parameter names and values (cheap: nothing is fitted).
            self.train_config(det)
            from pipeline.detectors import make_detector

            make_detector(det, **dict(params))
        object.__setattr__(self, "faults", tuple(self.faults))
        object.__setattr__(self, "severities", tuple(float(s) for s in self.severities))
        object.__setattr__(self, "fixed", dict(self.fixed))
        object.__setattr__(self, "feature_overrides", dict(self.feature_overrides))
        object.__setattr__(self, "detectors", {k: dict(v) for k, v in self.detectors.items()})

    def train_config(self, detector: str) -> TrainConfig:
        """Training configuration of one detector."""
        return TrainConfig(detector=detector, features=self.features, seed=self.seed,
                           target_fpr=self.target_fpr, folds=self.folds,
                           detector_params=dict(self.detectors[detector]),
                           feature_overrides=dict(self.feature_overrides))

    def inject_config(self):
        """datasets.blend.InjectConfig of a real-data experiment."""
        from datasets.blend import InjectConfig

        return InjectConfig(**{**self.plan_fields(), "faults": tuple(self.faults),
                               "severities": tuple(self.severities), "duration_s": float(self.duration_s),
                               "fixed": dict(self.fixed)}, channel=self.channel, fault_scale=self.fault_scale)

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        d = asdict(self)
        d["faults"], d["severities"] = list(self.faults), list(self.severities)
        return d


def _table(doc: Mapping[str, Any], key: str, allowed: set[str]) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, Mapping):
        raise FaultsynthError(f"[{key}] must be a table")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise FaultsynthError(f"unknown keys in [{key}]: {unknown}; expected some of {sorted(allowed)}")
    return dict(value)


def spec_from_dict(doc: Mapping[str, Any]) -> ExperimentSpec:
    """Build an ExperimentSpec from the parsed TOML document (unknown keys raise)."""
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise FaultsynthError(f"unknown top-level keys {unknown}; expected some of {sorted(_TOP_KEYS)}")
    data = _table(doc, "data", _DATA_KEYS)
    faults = _table(doc, "faults", _FAULT_KEYS)
    features = _table(doc, "features", _FEATURE_KEYS)
    training = _table(doc, "training", _TRAINING_KEYS)
    detectors = doc.get("detectors", {"kmeans": {}, "autoencoder": {}})
    if not isinstance(detectors, Mapping):
        raise FaultsynthError("[detectors] must be a table of [detectors.<name>] tables")
    if "machine" not in data:
        raise FaultsynthError("[data] machine is missing: expected a generator machine name, e.g. 'bearing'")
    fixed = data.get("fixed", {})
    if not isinstance(fixed, Mapping):
        raise FaultsynthError("[data] fixed must be a table of physical parameters, e.g. {rpm = 1797}")
    for key in ("types", "severities"):
        if key in faults and not isinstance(faults[key], list):
            raise FaultsynthError(f"[faults] {key} must be a list")
    kwargs: dict[str, Any] = dict(
        name=doc.get("name", "experiment"), machine=data["machine"], faults=tuple(faults.get("types", ())),
        severities=tuple(faults.get("severities", ())), fixed=dict(fixed), detectors=dict(detectors))
    for key in ("source", "count", "duration_s", "sample_rate", "machine_id", "channel", "fault_scale",
                "per_clip"):
        if key in data:
            kwargs[key] = data[key]
    if "path" in data:
        kwargs["real_path"] = str(data["path"])
    if "layout" in data:
        kwargs["real_layout"] = data["layout"]
    if "seed" in doc:
        kwargs["seed"] = doc["seed"]
    if "preset" in features:
        kwargs["features"] = features.pop("preset")
    kwargs["feature_overrides"] = features
    kwargs.update(training)
    return ExperimentSpec(**kwargs)


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and validate an experiment spec TOML file."""
    from datasets.toml_file import read_toml

    path = Path(path)
    spec = spec_from_dict(read_toml(path, what="an experiment spec"))
    if spec.real_path and not Path(spec.real_path).is_absolute():
        # Relative data paths are relative to the spec file.
        object.__setattr__(spec, "real_path", str((path.parent / spec.real_path).resolve()))
    return spec


# ---------------------------------------------------------------- stages

class _Stages:
    """Completion records of stages under ``<out>/.stages``."""

    def __init__(self, out: Path) -> None:
        self.folder = out / STAGES_DIR

    def reusable(self, stage: str, config_hash: str, folder: Path) -> bool:
        """True if ``stage`` finished with this config hash and its files are unchanged."""
        record_path = self.folder / f"{stage.replace('/', '_')}.json"
        if not record_path.is_file() or not folder.is_dir():
            return False
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return False
        return record.get("config_hash") == config_hash and record.get("files") == tree_hashes(folder)

    def start(self, stage: str, folder: Path, *, keep: bool = False) -> None:
        """Forget ``stage`` and (unless ``keep``) delete its folder before redoing it."""
        (self.folder / f"{stage.replace('/', '_')}.json").unlink(missing_ok=True)
        if folder.exists() and not keep:
            shutil.rmtree(folder)

    def finish(self, stage: str, config_hash: str, folder: Path) -> None:
        """Record ``stage`` as complete with the current files of ``folder``."""
        record = {"stage": stage, "config_hash": config_hash, "files": tree_hashes(folder)}
        write_text_atomic(self.folder / f"{stage.replace('/', '_')}.json",
                          json.dumps(record, indent=1, sort_keys=True) + "\n")


def _synth_config(spec: ExperimentSpec):
    from datasets.synth import SynthConfig

    return SynthConfig(**{**spec.plan_fields(), "duration_s": float(spec.duration_s)})


def _make_data(spec: ExperimentSpec, folder: Path, *, workers: int, progress: bool,
               scheduler: str | None = None) -> None:
    """Write the experiment's dataset into ``folder`` (synthesised, or real + injected faults)."""
    if spec.source == "synthetic":
        from datasets.synth import synthesize

        synthesize(_synth_config(spec), folder, workers=workers, progress=progress, scheduler=scheduler)
        return
    from datasets.blend import inject

    inject(spec.real_path, spec.inject_config(), folder, layout=spec.real_layout, workers=workers,
           scheduler=scheduler)


def _data_hash(spec: ExperimentSpec) -> str:
    keys = ("source", "machine", "faults", "severities", "count", "duration_s", "sample_rate", "seed",
            "machine_id", "fixed", "real_path", "real_layout", "channel", "fault_scale", "per_clip")
    d = spec.to_dict()
    return canonical_hash({"data": {k: d[k] for k in keys}})


@dataclass
class ExperimentResult:
    """What an experiment produced.

    Attributes
    ----------
    out_dir : Path
    metrics : dict detector -> metrics dict (as metrics.json)
    reused : list of str
        Stages reused from a previous run.
    timings_s : dict stage -> seconds
    report : Path
    """

    out_dir: Path
    metrics: dict
    reused: list
    timings_s: dict
    report: Path


def run_experiment(spec: ExperimentSpec, out_dir: str | Path, *, workers: int = 1,
                   progress: bool = True, scheduler: str | None = None) -> ExperimentResult:
    """Run (or resume) an experiment end to end.

    Parameters
    ----------
    spec : ExperimentSpec
    out_dir : path
        Experiment folder; stages already complete there with the same
        configuration are reused (after verifying their files).
    workers : int
        Processes for synthesis (results do not depend on it).
    progress : bool
        Show rich progress bars.
    scheduler : str or None
        Run on a Dask cluster (:mod:`datasets.executor`): the data stage's clips, then one task
        per detector (its training and evaluation); the same files and metrics as the local run.
        The workers must see ``out_dir`` at the same path.

    Returns
    -------
    ExperimentResult
    """
    from datasets.output_folder import folder_lock

    out = Path(out_dir)
    with folder_lock(out):  # one run per folder; the kernel frees the lock if this run dies
        if out.is_dir() and any(out.iterdir()) and not (out / STAGES_DIR).is_dir():
            raise FaultsynthError(f"{out} holds something else (no {STAGES_DIR}): choose a new folder for the "
                                  "experiment")
        return _run_experiment(spec, out, workers=workers, progress=progress, scheduler=scheduler)


def _run_experiment(spec: ExperimentSpec, out: Path, *, workers: int, progress: bool,
                    scheduler: str | None) -> ExperimentResult:
    """:func:`run_experiment` inside the folder lock."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from datasets.executor import executor
    from datasets.loaders import load_records
    from datasets.manifest import DATASET_JSON, find_meta_file
    from pipeline import reports

    out.mkdir(parents=True, exist_ok=True)
    stages = _Stages(out)
    timings: dict[str, float] = {}
    reused: list[str] = []

    # Stage 1: data. (Runs before the progress display: synthesis may fork worker processes.)
    data_dir = out / "data"
    data_hash = _data_hash(spec)
    t0 = time.perf_counter()
    if stages.reusable("data", data_hash, data_dir):
        reused.append("data")
    else:
        dataset_json = find_meta_file(data_dir, DATASET_JSON)
        if data_dir.exists() and dataset_json is None:
            raise FaultsynthError(f"{data_dir} exists but was not written by an experiment: move it away or "
                                  "choose another --out")
        # An interrupted synthesis of the same config resumes in place (synth checks dataset.json).
        same = dataset_json is not None and _same_synth(spec, dataset_json)
        stages.start("data", data_dir, keep=same)
        _make_data(spec, data_dir, workers=workers, progress=progress, scheduler=scheduler)
        stages.finish("data", data_hash, data_dir)
    timings["data"] = time.perf_counter() - t0
    records = load_records(data_dir, layout="faultsynth")

    results: dict[str, dict] = {}
    models: dict[str, dict] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with contextlib.ExitStack() as stack:
        # Stages 2 and 3: each detector's training and evaluation, here or one task per detector on the cluster.
        run = stack.enter_context(executor(1, scheduler)) if scheduler is not None else None
        bar = stack.enter_context(Progress(*columns, disable=not progress, transient=False))
        overall = bar.add_task("experiment", total=len(spec.detectors))
        if run is None:
            cache: dict = {}  # feature vectors shared by the detectors (same clips, same feature config)
            done = (_detector_stages(spec, out, detector, data_hash, records, bar=bar, cache=cache)
                    for detector in spec.detectors)
        else:
            done = run(_detector_job, [(spec, str(out), detector, data_hash, records) for detector in spec.detectors])
        for detector, stage in zip(spec.detectors, done):
            models[detector], results[detector] = stage["meta"], stage["metrics"]
            reused += stage["reused"]
            timings.update(stage["timings_s"])
            bar.advance(overall)

    plot = reports.plot_coverage_side_by_side(
        out / "coverage_side_by_side.png", {d: results[d]["coverage"] for d in spec.detectors},
        title=f"{spec.name}: detection rate at threshold (AUC)")
    summary = {"spec": spec.to_dict(), "reused": reused, "timings_s": timings,
               "detectors": {d: {"auc": results[d]["auc"], "pauc": results[d]["pauc"],
                                 "threshold": results[d]["threshold"],
                                 "min_detectable_severity": {
                                     f: v["min_detectable_severity"]
                                     for f, v in results[d]["coverage"]["faults"].items()},
                                 "min_separable_severity": {
                                     f: v["min_separable_severity"]
                                     for f, v in results[d]["coverage"]["faults"].items()}}
                           for d in spec.detectors}}
    write_text_atomic(out / "experiment.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    spec_dict = spec.to_dict()
    spec_dict["sample_rate"] = records[0].sample_rate
    report = reports.write_experiment_report(out / "report.md", spec=spec_dict, results=results, models=models,
                                             plot=plot, timings_s=timings, reused=reused)
    return ExperimentResult(out_dir=out, metrics=results, reused=reused, timings_s=timings, report=report)


def _detector_stages(spec: ExperimentSpec, out: Path, detector: str, data_hash: str, records: list, *,
                     bar=None, cache: dict | None = None) -> dict:
    """Train (or reuse) and evaluate (or reuse) one detector: its ``models/`` and ``eval/`` stages.

    Parameters
    ----------
    spec : ExperimentSpec
    out : Path
        Experiment folder (``data/`` already made).
    detector : str
        A key of ``spec.detectors``.
    data_hash : str
        Configuration hash of the data stage (part of the model stage's).
    records : list of ClipRecord
        The dataset's clips.
    bar : rich.progress.Progress, optional
        Progress display of this process (None on a cluster worker).
    cache : dict, optional
        Feature vectors shared with the other detectors run in this process.

    Returns
    -------
    dict
        ``meta`` (the bundle's), ``metrics`` (as metrics.json), ``reused`` (stage names) and ``timings_s``.
    """
    from pipeline.evaluate import evaluate_bundle, select_evaluation, write_evaluation
    from pipeline.training import load_bundle, train_bundle

    stages, data_dir = _Stages(out), out / "data"
    reused, timings = [], {}
    config = spec.train_config(detector)
    model_dir = out / "models" / detector
    model_hash = canonical_hash({"data": data_hash, "train": config.to_dict()})
    t0 = time.perf_counter()
    if stages.reusable(f"models/{detector}", model_hash, model_dir):
        reused.append(f"models/{detector}")
        bundle = load_bundle(model_dir)
    else:
        stages.start(f"models/{detector}", model_dir)
        train_bundle(config, records=records, out_dir=model_dir, data_path=data_dir, progress=bar, cache=cache)
        bundle = load_bundle(model_dir)
        stages.finish(f"models/{detector}", model_hash, model_dir)
    timings[f"train {detector}"] = time.perf_counter() - t0

    eval_dir = out / "eval" / detector
    eval_hash = canonical_hash({"model": model_hash, "bundle": bundle.meta["fingerprint"]})
    t0 = time.perf_counter()
    if stages.reusable(f"eval/{detector}", eval_hash, eval_dir):
        reused.append(f"eval/{detector}")
        metrics = json.loads((eval_dir / "metrics.json").read_text(encoding="utf-8"))
    else:
        stages.start(f"eval/{detector}", eval_dir)
        selection = select_evaluation(records, train_files=bundle.train_files, train_spans=bundle.train_spans)
        advance = None
        if bar is not None:
            task = bar.add_task(f"scoring ({detector})", total=len(selection.records))
            advance = lambda: bar.advance(task)  # noqa: E731
        evaluation = evaluate_bundle(bundle, selection.records, selection=selection, advance=advance, cache=cache)
        evaluation.metrics["data"] = str(data_dir.resolve())
        write_evaluation(evaluation, eval_dir, title=f"{detector}, experiment {spec.name}")
        metrics = evaluation.metrics
        stages.finish(f"eval/{detector}", eval_hash, eval_dir)
    timings[f"evaluate {detector}"] = time.perf_counter() - t0
    return {"meta": bundle.meta, "metrics": metrics, "reused": reused, "timings_s": timings}


def _detector_job(job: tuple) -> dict:
    """:func:`_detector_stages` on a Dask worker: ``job`` = (spec, out folder, detector, data hash, records)."""
    spec, out, detector, data_hash, records = job
    return _detector_stages(spec, Path(out), detector, data_hash, records)


def _same_synth(spec: ExperimentSpec, dataset_json: Path) -> bool:
    """True if ``dataset_json`` records this spec's synthesis config (safe to resume)."""
    if spec.source != "synthetic":
        return False
    try:
        meta = json.loads(dataset_json.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, OSError):
        return False
    return meta.get("config") == json.loads(json.dumps(_synth_config(spec).to_dict()))

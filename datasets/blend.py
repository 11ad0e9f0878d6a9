"""Blending real and synthetic data: fault injection, real-noise mixing, mixed training sets.

inject
    Real normal recordings are cut into segments of ``duration_s``; each test
    anomaly clip is one segment plus a synthetic fault component rendered
    with generators.registry (``sample_clip_params`` then ``machine.render``,
    keeping ``Parts.fault``) at the recording's sample rate. The real part is
    untouched: ``clip == segment + gain * fault`` (float32 WAV).

    Fault scaling (``fault_scale``):

    * ``"machine"`` (default): ``gain = rms(segment) / rms(Parts.machine)``.
      The generator's own fault-to-machine ratio (its physical severity
      mapping) is carried over, the real segment standing in for the
      rendered healthy machine. Severity therefore acts exactly as in
      ``synth``.
    * ``"absolute"``: ``gain = 1``: for recordings in the generator's units
      (g for vibration, e.g. CWRU).

    Recorded in params: ``inject_gain``, ``fault_scale``, ``segment_rms``,
    ``fault_rms`` (after the gain) and ``fault_to_signal_db`` =
    20 log10(fault_rms / segment_rms), with every rendered fault parameter.

    Segments are ordered round-robin over the recordings (first segment of
    every recording, then the second...). The first ``count`` segments become
    the normal training clips; the others form the test pool, which the
    ``count`` normal test clips and then the anomaly clips (``count`` per
    fault and severity) go through in turn, reusing segments when the pool
    is shorter (``segment_index`` in params says which).

mix
    A real background recording segment (picked by the clip's seed) is added
    to each synthetic clip by ``audiomentations.AddBackgroundNoise``, its
    parameters (noise, SNR) set from the clip's draws and frozen, scaled so that
    10 log10(P(clip) / P(noise)) equals each requested SNR; one output clip per
    (input clip, SNR). ``snr_db`` in params becomes the mixing SNR (the
    generator's own is kept as ``synthetic_snr_db``).

mixed_training_set
    Real and synthetic normal clips in a requested proportion, provenance in
    the ``source`` column. The ``mix --real ... --synthetic ...`` command
    copies the chosen clips (decoded, float32 WAV) into a new dataset.

All three write a dataset in the layout ``synth`` writes (WAVs, and ``manifest.csv``
and ``dataset.json`` in ``.faultsynth/``) into a hidden staging folder beside
``out`` (:func:`datasets.output_folder.replaced_folder`), renamed to ``out``
only when everything succeeded, so a failure leaves nothing half-written and
the staging of a killed run is removed by the next run. Per-clip seeds: ``datasets.synth.clip_seed(seed, index)``
(``SeedSequence(seed, spawn_key=(index,))``), so output is byte-identical
for any number of workers.
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from datasets.atomic import remove_partial_files, write_text_atomic
from datasets.audio import Channel, load_audio
from datasets import limits
from datasets.executor import check_scheduler, executor, processes_here
from datasets.layout import ClipNumbers, write_clip
from datasets.manifest import (DATASET_JSON, EVENTS_NAME, MANIFEST_NAME, META_DIR, find_meta_file, meta_file,
                               write_events, write_manifest)
from datasets.loaders import unreadable
from datasets.plan import DatasetPlan
from datasets.output_folder import check_output_path, replaced_folder
from datasets.records import ClipRecord
from datasets.url_folder import UrlFolder, is_url
from datasets.synth import check_machine_id, clip_seed
from errors import FaultsynthError
from generators.noise import rms
from provenance import jsonable, version

FAULT_SCALES = ("machine", "absolute")
#: Noise segments quieter than this RMS are refused by ``mix`` (AddBackgroundNoise would skip them).
SILENT_RMS = 1e-9


# ---- shared pieces ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """A validated real recording, decoded at the working rate.

    Attributes
    ----------
    record : ClipRecord
    n_samples : int
        Length at ``rate`` (after the optional resampling).
    rate : int
        Hz.
    """

    record: ClipRecord
    n_samples: int
    rate: int


_CACHE: dict[tuple, np.ndarray] = {}


def _samples(record: ClipRecord, channel: Channel, rate: int | None) -> np.ndarray:
    """Decoded mono samples (float32), cached (a worker reads each recording once per run)."""
    key = (record.root, record.path, channel, rate)
    if key not in _CACHE:
        if len(_CACHE) >= 4:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = load_audio(record, channel=channel,
                                 sample_rate=rate if rate != record.sample_rate else None)
    return _CACHE[key]


def _validate_sources(records: Sequence[ClipRecord], *, channel: Channel, sample_rate: int | None,
                      bad: list | None, what: str) -> list[Source]:
    """Decode every recording once (finds corrupt files early); one working rate for all."""
    rates = sorted({r.sample_rate for r in records})
    if sample_rate is None and len(rates) > 1:
        raise FaultsynthError(f"{what} recordings have mixed sample rates {rates} Hz: expected one rate; "
                              "pass --sample-rate to resample them")
    sources = []
    for record in records:
        rate = sample_rate or record.sample_rate
        try:
            x = _samples(record, channel, rate)
        except (FaultsynthError, OSError) as exc:
            message = str(exc) if isinstance(exc, FaultsynthError) else unreadable(record.file, exc)
            if bad is None:
                raise FaultsynthError(message) from None
            bad.append((str(record.file), message))
            continue
        sources.append(Source(record, int(x.size), int(rate)))
    if not sources:
        raise FaultsynthError(f"no readable {what} recordings")
    return sources


def _finish(staging: Path, records: list[ClipRecord], events: list, meta: dict, with_events: bool) -> None:
    """Write manifest, events and dataset.json into ``staging``."""
    write_text_atomic(meta_file(staging, DATASET_JSON), json.dumps(meta, indent=2, sort_keys=True) + "\n")
    if with_events or events:
        write_events(staging, events)
    write_manifest(staging, records)


def _check_output(out: str | Path, scheduler: str | None) -> None:
    """Refuse, before any work, an output that cannot be written: a local folder that cannot be made, or a
    URL whose file system is unknown or not installed, or that a remote cluster would have to build."""
    if not is_url(out):
        check_output_path(out)
        return
    UrlFolder(out)  # an unknown protocol or a missing package is refused here
    if scheduler is not None and not scheduler.startswith("local:"):
        raise FaultsynthError(f"{out}: inject and mix build a URL's dataset on this machine, which the workers of "
                              f"{scheduler} cannot see: expected --scheduler local:N, or a shared folder as --out")


def _disk_of(out: str | Path) -> str | Path:
    """Where the dataset takes disk space while it is built: ``out``, or the temporary folder for a URL."""
    return tempfile.gettempdir() if is_url(out) else out


def _produce(out: str | Path, jobs: list, function: Callable, workers: int, meta: dict,
             with_events: bool, events: Sequence[tuple] = (), scheduler: str | None = None) -> list[ClipRecord]:
    """Run the clip jobs into a staging folder and publish it as ``out`` (new or empty) when all succeeded.

    The jobs run on :func:`datasets.executor.executor` (local processes, or a Dask cluster for ``scheduler``).
    A URL ``out`` is built in a local temporary folder, then uploaded (:func:`_upload`).
    """
    if is_url(out):
        url = str(out)
        folder = UrlFolder(url)
        _clear_unfinished_upload(folder)
        if folder.files():
            raise FaultsynthError(f"{url} exists and is not empty: expected a new or empty output folder")
        with tempfile.TemporaryDirectory(prefix="faultsynth-") as tmp:
            records = _produce(Path(tmp) / "dataset", jobs, function, workers, meta, with_events, events, scheduler)
            _upload(Path(tmp) / "dataset", folder)
        return [r.replace(root=url) for r in records]
    out = Path(out)
    with replaced_folder(out, marker=None) as staging, executor(workers, scheduler) as run:
        records, events = [], list(events)
        for row, clip_events in run(function, [(str(staging), job) for job in jobs]):
            records.append(ClipRecord.from_manifest_row(row, root=staging))
            events.extend(tuple(e) for e in clip_events)
        remove_partial_files(staging)  # left by a worker killed mid-write (its clips were redone)
        _finish(staging, records, events, meta, with_events)
    return sorted((r.replace(root=str(out)) for r in records), key=lambda r: r.path)


#: Written first and removed last when a dataset is uploaded to a URL: a root holding it is an unfinished upload.
UPLOADING = f"{META_DIR}/upload.partial"


def _upload(local: Path, folder: UrlFolder) -> None:
    """Upload the finished dataset ``local`` to ``folder``: every file whole, the manifest last."""
    manifest = meta_file(local, MANIFEST_NAME)
    folder.write_text(UPLOADING, "an upload to this folder was cut short; the next run clears it\n")
    for path in sorted(local.rglob("*")):
        if path.is_file() and path != manifest:
            folder.write_bytes(path.relative_to(local).as_posix(), path.read_bytes())
    folder.write_bytes(manifest.relative_to(local).as_posix(), manifest.read_bytes())
    folder.remove(UPLOADING)


def _clear_unfinished_upload(folder: UrlFolder) -> None:
    """Clear what a killed upload left under ``folder`` (its marker, clips, never a manifest)."""
    if folder.read_text(UPLOADING) is not None:
        folder.clear(remove_root=False)


# ---- inject ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InjectResult:
    """One injected clip and its exact parts.

    Attributes
    ----------
    signal : ndarray, shape (n,), float64
        ``segment + fault``.
    fault : ndarray, shape (n,), float64
        The scaled fault component (``gain * Parts.fault``).
    params : dict
        Every rendered parameter plus the scaling figures (see module docstring).
    events : list of generators.base.Event
    """

    signal: np.ndarray
    fault: np.ndarray
    params: dict
    events: list = field(default_factory=list)


def inject_clip(segment: np.ndarray, *, machine: str, fault: str, severity: float, sample_rate: int,
                seed: int, fixed: Mapping[str, Any] | None = None, fault_scale: str = "machine") -> InjectResult:
    """Add a synthetic fault to one real segment (a pure function of its arguments).

    Parameters
    ----------
    segment : ndarray, shape (n,)
        Real recording (any units; g for vibration to use ``fault_scale="absolute"``).
    machine : str
        Generator name (generators.registry).
    fault : str
        One of the machine's faults.
    severity : float
        0..1.
    sample_rate : int
        Hz of ``segment``; the fault is rendered at this rate.
    seed : int
        Per-clip seed: ``SeedSequence(seed).spawn(2)`` drives parameter sampling and rendering.
    fixed : mapping, optional
        Known machine parameters (rpm, bearing, blade count...).
    fault_scale : {"machine", "absolute"}
        See the module docstring.

    Returns
    -------
    InjectResult
    """
    from generators.registry import get_machine, sample_clip_params

    if fault_scale not in FAULT_SCALES:
        raise FaultsynthError(f"fault scale {fault_scale!r}: expected one of {', '.join(FAULT_SCALES)}")
    segment = np.asarray(segment, dtype=np.float64)
    generator = get_machine(machine)
    sample_seq, render_seq = np.random.SeedSequence(seed).spawn(2)
    params = sample_clip_params(generator, np.random.default_rng(sample_seq), fault=fault, severity=severity,
                                fixed=dict(fixed or {}), sample_rate=int(sample_rate))
    duration_s = segment.size / sample_rate
    params.update(sample_rate=int(sample_rate), duration_s=duration_s)
    parts = generator.render(params, duration_s=duration_s, sample_rate=int(sample_rate),
                             rng=np.random.default_rng(render_seq))
    component = np.asarray(parts.fault, dtype=np.float64)
    if component.shape != segment.shape:
        raise FaultsynthError(f"{machine}: rendered {component.size} samples for a {segment.size}-sample segment")
    segment_rms = rms(segment)
    if fault_scale == "machine":
        machine_rms = rms(parts.machine)
        if machine_rms == 0 or segment_rms == 0:
            raise FaultsynthError(f"{machine}: cannot scale the fault to the recording: silent "
                                  f"{'segment' if segment_rms == 0 else 'machine rendering'}")
        gain = segment_rms / machine_rms
    else:
        gain = 1.0
    scaled = gain * component
    fault_rms = rms(scaled)
    params.update(fault_scale=fault_scale, inject_gain=gain, segment_rms=segment_rms, fault_rms=fault_rms,
                  fault_to_signal_db=(20 * math.log10(fault_rms / segment_rms)
                                      if fault_rms > 0 and segment_rms > 0 else None))
    # the generator's background noise and sensor are not used: the recording brings its own
    for key in ("snr_db", "noise_color", "sensor"):
        params.pop(key, None)
    return InjectResult(signal=segment + scaled, fault=scaled, params=jsonable(params),
                        events=list(parts.events))


@dataclass(frozen=True, kw_only=True)
class InjectConfig(DatasetPlan):
    """What to inject; validated on construction.

    The shared fields are :class:`datasets.plan.DatasetPlan`'s; ``machine`` names the
    generator of the fault components, ``faults``, ``severities``, ``count`` and ``duration_s``
    must be given, ``fixed`` holds known machine parameters, ``sample_rate`` resamples the
    recordings (None keeps theirs: they must share one rate), and ``per_clip`` draws every
    fault-generator parameter per clip instead of one synthetic machine (``machine_id``'s build,
    :mod:`generators.identity`) behind all clips.

    Parameters
    ----------
    channel : int, str or "mean"
        Channel of multi-channel recordings (a CWRU name such as ``"DE"`` too).
    fault_scale : {"machine", "absolute"}
    """

    faults: tuple[str, ...] = field()  # field(): required here, unlike in DatasetPlan
    severities: tuple[float, ...] = field()
    count: int = field()
    duration_s: float = field()
    channel: Channel = 0
    fault_scale: str = "machine"

    def __post_init__(self) -> None:
        from datasets.synth import check_clip_plan, check_fixed

        if not self.faults:
            raise FaultsynthError("no faults given: expected --faults with a comma list of fault types")
        if not self.severities:
            raise FaultsynthError("no severities given: expected a comma list such as 0.2,0.5,1")
        check_clip_plan(machine=self.machine, faults=self.faults, severities=self.severities, count=self.count,
                        duration_s=self.duration_s, seed=self.seed, machine_id=self.machine_id)
        if self.fault_scale not in FAULT_SCALES:
            raise FaultsynthError(f"fault scale {self.fault_scale!r}: expected one of {', '.join(FAULT_SCALES)}")
        if self.sample_rate is not None:
            limits.check_int("sample rate (Hz)", self.sample_rate, limits.SAMPLE_RATE_HZ)
        check_fixed(self.fixed)

    def to_dict(self) -> dict:
        """JSON-serialisable form (recorded in dataset.json)."""
        return jsonable({"machine": self.machine, "faults": list(self.faults),
                          "severities": list(self.severities), "count": self.count,
                          "duration_s": self.duration_s, "seed": self.seed, "fixed": dict(sorted(self.fixed.items())),
                          "channel": self.channel, "sample_rate": self.sample_rate,
                          "machine_id": self.machine_id, "fault_scale": self.fault_scale,
                          "per_clip": self.per_clip})

    def clip_fixed(self, sample_rate: int) -> dict:
        """The fault generator's ``fixed`` mapping for a clip: the machine id's build, or the user's values."""
        if self.per_clip:
            return dict(self.fixed)
        from generators.identity import clip_fixed, machine_build

        build = machine_build(self.machine, seed=self.seed, machine_id=self.machine_id, sample_rate=sample_rate,
                              fixed=self.fixed)
        return clip_fixed(self.machine, build, self.fixed)


@dataclass(frozen=True)
class _InjectJob:
    config: InjectConfig
    index: int
    path: str
    split: str
    label: str
    fault: str
    severity: float
    source: Source
    segment_index: int
    start: int


def plan_inject(config: InjectConfig, sources: Sequence[Source]) -> list[_InjectJob]:
    """Every clip of an inject run, in index order (see the module docstring)."""
    n_seg = int(round(config.duration_s * sources[0].rate))
    if n_seg < 1:
        raise FaultsynthError(f"duration {config.duration_s} s is shorter than one sample")
    per_source = [[(s, k * n_seg) for k in range(s.n_samples // n_seg)] for s in sources]
    segments = []
    for k in range(max(len(p) for p in per_source)):
        segments.extend(p[k] for p in per_source if k < len(p))
    if len(segments) < config.count + 1:
        total = sum(s.n_samples for s in sources) / sources[0].rate
        raise FaultsynthError(f"the normal recordings ({total:.1f} s) give {len(segments)} segments of "
                              f"{config.duration_s} s: expected at least count + 1 = {config.count + 1} "
                              "(count training clips and a test pool); lower --count or --duration")
    train, pool = segments[:config.count], segments[config.count:]
    classes = [("test", "normal", "none", 0.0)] + [("test", "anomaly", f, float(s))
                                                     for f in config.faults for s in config.severities]
    jobs, numbers = [], ClipNumbers()

    def add(split, label, fault, severity, segment, segment_index):
        path = numbers.next_path(config.machine, split, label, config.machine_id)
        jobs.append(_InjectJob(config, len(jobs), path, split, label, fault, severity, segment[0],
                               segment_index, segment[1]))

    for i, segment in enumerate(train):
        add("train", "normal", "none", 0.0, segment, i)
    k = 0
    for split, label, fault, severity in classes:
        for _ in range(config.count):
            add(split, label, fault, severity, pool[k % len(pool)], config.count + k % len(pool))
            k += 1
    return jobs


def _inject_one(item: tuple[str, _InjectJob]) -> tuple[dict, list]:
    root, job = item
    config, source = job.config, job.source
    rate = source.rate
    n_seg = int(round(config.duration_s * rate))
    segment = _samples(source.record, config.channel, rate)[job.start: job.start + n_seg].astype(np.float64)
    provenance = {"source_path": str(source.record.file), "source_clip": source.record.path,
                  "source_root": source.record.root, "segment_start_s": job.start / rate,
                  "segment_end_s": (job.start + n_seg) / rate, "segment_index": job.segment_index,
                  "channel": config.channel, "source_sample_rate": source.record.sample_rate}
    events = []
    if job.label == "normal":
        signal, params, seed, origin = segment, {**provenance, **_source_params(source.record)}, None, "real"
    else:
        seed = clip_seed(config.seed, job.index)
        result = inject_clip(segment, machine=config.machine, fault=job.fault, severity=job.severity,
                             sample_rate=rate, seed=seed, fixed=_clip_fixed(config, rate),
                             fault_scale=config.fault_scale)
        signal, origin = result.signal, "mixed"
        params = {**result.params, **provenance}
        events = [[job.path, e.onset_s, e.offset_s, e.fault] for e in result.events]
    digest = write_clip(root, job.path, signal, rate)
    record = ClipRecord(path=job.path, split=job.split, machine=config.machine, machine_id=config.machine_id,
                        label=job.label, fault=job.fault, severity=float(job.severity), source=origin, seed=seed,
                        sample_rate=rate, duration_s=n_seg / rate, channels=1, params=jsonable(params),
                        sha256=digest)
    return record.manifest_row(), events


_FIXED_CACHE: dict = {}


def _clip_fixed(config: InjectConfig, rate: int) -> dict:
    """``config.clip_fixed(rate)``, computed once per process."""
    key = (json.dumps(config.to_dict(), sort_keys=True), rate)
    if key not in _FIXED_CACHE:
        _FIXED_CACHE[key] = config.clip_fixed(rate)
    return _FIXED_CACHE[key]


def _source_params(record: ClipRecord) -> dict:
    """Metadata of the real recording worth keeping (rpm, attributes...), prefixed."""
    skip = {"variables", "channel_names"}
    return {f"source_{k}": v for k, v in record.params.items() if k not in skip}


def inject(input_path: str | Path, config: InjectConfig, out: str | Path, *, layout: str = "auto",
           workers: int = 1, bad: list | None = None, scheduler: str | None = None) -> list[ClipRecord]:
    """Inject synthetic faults into real normal recordings; write a dataset to ``out``.

    Parameters
    ----------
    input_path : str or Path
        A .wav/.mat file, a folder, or any dataset :func:`datasets.loaders.load_records` reads;
        only its normal clips are used.
    config : InjectConfig
    out : str or Path
        New (or empty) dataset folder.
    layout : str
        Layout of ``input_path`` (``"auto"`` detects).
    workers : int
        Processes (output does not depend on it).
    bad : list, optional
        Collect unreadable recordings as ``(file, message)`` and skip them instead of raising.
    scheduler : str or None
        A Dask cluster instead of local processes (:mod:`datasets.executor`); same output.

    Returns
    -------
    list of ClipRecord
        Written clips, sorted by path.
    """
    from datasets.loaders import load_records
    from generators.registry import get_machine

    check_scheduler(scheduler)
    _check_output(out, scheduler)
    records = [r for r in load_records(input_path, layout=layout, bad=bad) if r.label == "normal"]
    if not records:
        raise FaultsynthError(f"{input_path}: no normal recordings: expected real normal clips to inject into")
    sources = _validate_sources(records, channel=config.channel, sample_rate=config.sample_rate, bad=bad,
                                what="normal")
    n_seg = int(round(config.duration_s * sources[0].rate))
    limits.check_dataset_size(_disk_of(out), n_clips=config.count * (2 + len(config.faults) * len(config.severities)),
                              samples_per_clip=n_seg, bytes_per_sample=4,
                              workers=processes_here(workers, scheduler))
    _preflight(config, sources[0].rate)
    jobs = plan_inject(config, sources)
    generator = get_machine(config.machine)
    with_events = any(generator.faults[f].time_localised for f in config.faults)
    meta = {"generator": "faultsynth", "version": version(), "command": "inject", "seed": config.seed,
            "config": config.to_dict(), "input": str(Path(input_path).resolve()),
            "recordings": [s.record.path for s in sources]}
    return _produce(out, jobs, _inject_one, workers, meta, with_events, scheduler=scheduler)


def _preflight(config: InjectConfig, rate: int) -> None:
    """Render a short fault of each type at the top severity so bad parameters fail before writing."""
    probe = np.ones(max(8, int(round(config.duration_s * rate))))  # full length: some generators need it
    for fault in config.faults:
        inject_clip(probe, machine=config.machine, fault=fault, severity=max(config.severities), sample_rate=rate,
                    seed=config.seed, fixed=config.fixed, fault_scale=config.fault_scale)


# ---- mix: real noise into synthetic clips -------------------------------------------------------

@dataclass(frozen=True)
class _MixJob:
    index: int
    path: str
    clip: ClipRecord
    snr_db: float
    seed: int
    noise: tuple[Source, ...]
    noise_channel: Channel = 0


def _background(segment: np.ndarray, *, snr_db: float, sample_rate: int, folder: str):
    """``audiomentations.AddBackgroundNoise`` that adds ``segment`` at ``snr_db``, parameters set and frozen.

    AddBackgroundNoise reads its noise from an audio file through librosa (every channel averaged,
    resampled with soxr), which cannot honour the project's channel choice (a MIMII microphone, a CWRU
    ``DE`` variable in a .mat file) nor its resampling; and librosa truncates ``offset * rate`` to whole
    samples, so a start given in seconds can land one sample early. The segment is therefore decoded by
    :mod:`datasets.audio` (validated, channel chosen, resampled as everywhere in the project), written
    as a float32 WAV holding exactly the segment (bit-exact round trip) in ``folder``, and the transform
    reads that whole file (``offset`` 0, ``duration`` None). Its SNR is the project's:
    ``20 log10(rms(clip) / rms(scaled noise))``.
    """
    import soundfile as sf
    from audiomentations import AddBackgroundNoise

    path = Path(folder) / "segment.wav"
    sf.write(path, np.asarray(segment, dtype=np.float32), int(sample_rate), subtype="FLOAT")
    transform = AddBackgroundNoise(sounds_path=path, min_snr_db=snr_db, max_snr_db=snr_db, p=1.0)
    transform.parameters = {"should_apply": True, "snr_db": float(snr_db), "noise_file_path": str(path),
                            "offset": 0.0, "duration": None}
    transform.freeze_parameters()
    return transform


def _mix_one(item: tuple[str, _MixJob]) -> tuple[dict, list]:
    """One mixed clip: the noise recording and its start drawn from the clip's seed, added at ``snr_db``.

    The clip's own draws pick the noise recording and the segment's start; the addition is done by
    ``audiomentations.AddBackgroundNoise`` with those choices and the SNR set explicitly
    (:func:`_background`), so its global random state is never used. ``measured_snr_db`` and
    ``noise_gain`` are measured on what is written (``mixed - clip``), in float64.
    """
    import tempfile

    from generators.noise import measured_snr_db

    root, job = item
    clip = job.clip
    x = _samples(clip, 0, None)
    rate = clip.sample_rate
    if rms(x) == 0:
        raise FaultsynthError(f"{clip.file}: silent clip: expected sound to mix noise into at an SNR")
    rng = np.random.default_rng(job.seed)
    usable = [s for s in job.noise if s.n_samples >= x.size]
    if not usable:
        longest = max(s.n_samples for s in job.noise) / rate
        raise FaultsynthError(f"{clip.path}: lasts {x.size / rate:.3f} s but the longest noise "
                              f"recording lasts {longest:.3f} s: expected noise at least as long as the clips")
    source = usable[int(rng.integers(len(usable)))]
    start = int(rng.integers(source.n_samples - x.size + 1))
    segment = _samples(source.record, job.noise_channel, rate)[start: start + x.size]
    if rms(segment) < SILENT_RMS:
        raise FaultsynthError(f"{source.record.file}: silent at {start / rate:.3f} s (RMS below {SILENT_RMS:g}): "
                              "expected a noise recording with sound in every segment")
    with tempfile.TemporaryDirectory(prefix="faultsynth-mix-") as folder:
        mixed = _background(segment, snr_db=job.snr_db, sample_rate=rate, folder=folder)(x, sample_rate=rate)
    noise = mixed.astype(np.float64) - x.astype(np.float64)
    params = dict(clip.params)
    if "snr_db" in params:
        params["synthetic_snr_db"] = params["snr_db"]
    params.update(snr_db=job.snr_db, measured_snr_db=measured_snr_db(x, noise),
                  noise_path=str(source.record.file), noise_clip=source.record.path,
                  noise_segment_start_s=start / rate, noise_segment_end_s=(start + x.size) / rate,
                  noise_gain=rms(noise) / rms(segment), synthetic_clip=clip.path,
                  synthetic_root=clip.root, synthetic_seed=clip.seed)
    digest = write_clip(root, job.path, mixed, rate)
    record = clip.replace(path=job.path, source="mixed", seed=job.seed, channels=1,
                          duration_s=x.size / rate, params=jsonable(params), sha256=digest, root="")
    return record.manifest_row(), []


def mix_noise(input_path: str | Path, noise_path: str | Path, out: str | Path, *, snrs_db: Sequence[float],
              seed: int = 0, noise_layout: str = "auto", noise_channel: Channel = 0, workers: int = 1,
              bad: list | None = None, scheduler: str | None = None) -> list[ClipRecord]:
    """Add real background recordings to synthetic clips at the requested SNRs.

    Parameters
    ----------
    input_path : str or Path
        A dataset (normally written by ``synth``); every clip is used, channel 0.
    noise_path : str or Path
        Background recordings (any layout the loaders read; their normal clips).
    out : str or Path
        New (or empty) dataset folder.
    snrs_db : sequence of float
        One output clip per input clip and SNR (dB), e.g. (6, 0, -6) as in MIMII.
    seed : int
        Root seed (noise recording and offset per clip).
    noise_layout : str
    noise_channel : int, str or "mean"
        Channel of multi-channel noise recordings.
    workers : int
    bad : list, optional
        Collect unreadable files as ``(file, message)`` and skip them.
    scheduler : str or None
        A Dask cluster instead of local processes (:mod:`datasets.executor`); same output.

    Returns
    -------
    list of ClipRecord
    """
    from datasets.loaders import load_records

    if not snrs_db:
        raise FaultsynthError("SNRs: expected a comma list of dB values such as 6,0,-6")
    snrs = [limits.check_float("SNR", s, limits.SNR_DB, "dB") for s in snrs_db]
    limits.check_int("seed", seed, limits.SEED)
    check_scheduler(scheduler)
    _check_output(out, scheduler)
    clips = load_records(input_path, bad=bad)
    clip_sources = _validate_sources(clips, channel=0, sample_rate=None, bad=bad, what="synthetic")
    noise_records = [r for r in load_records(noise_path, layout=noise_layout, bad=bad) if r.label == "normal"]
    if not noise_records:
        raise FaultsynthError(f"{noise_path}: no normal recordings: expected background noise recordings")
    rate = clip_sources[0].rate
    noise = tuple(_validate_sources(noise_records, channel=noise_channel, sample_rate=rate, bad=bad,
                                    what="noise"))
    longest = max(s.n_samples for s in noise)
    too_long = [s for s in clip_sources if s.n_samples > longest]
    if too_long:
        raise FaultsynthError(f"{too_long[0].record.file}: lasts {too_long[0].n_samples / rate:.3f} s but the longest "
                              f"noise recording lasts {longest / rate:.3f} s: expected noise at least as long as "
                              "the clips")
    limits.check_dataset_size(_disk_of(out), n_clips=len(clip_sources) * len(snrs), bytes_per_sample=4,
                              workers=processes_here(workers, scheduler),
                              samples_per_clip=max(s.n_samples for s in clip_sources))
    jobs, numbers = [], ClipNumbers()
    for source in clip_sources:
        clip = source.record
        for snr in snrs:
            index = len(jobs)
            path = numbers.next_path(clip.machine, clip.split, clip.label, clip.machine_id)
            jobs.append(_MixJob(index, path, clip, snr, clip_seed(seed, index), noise, noise_channel))
    meta = {"generator": "faultsynth", "version": version(), "command": "mix", "seed": seed,
            "config": {"input": str(Path(input_path).resolve()), "noise": str(Path(noise_path).resolve()),
                       "snrs_db": snrs, "noise_layout": noise_layout, "noise_channel": noise_channel}}
    events = _input_events(Path(input_path), jobs)
    return _produce(out, jobs, _mix_one, workers, meta, with_events=events is not None,
                    events=events or (), scheduler=scheduler)


def _input_events(input_root: Path, jobs: list) -> list[tuple] | None:
    """The input's events.csv rows carried over to the mixed clips (same onsets); None if it has none."""
    events_file = find_meta_file(input_root, EVENTS_NAME)
    if events_file is None:
        return None
    by_path: dict[str, list[str]] = {}
    for job in jobs:
        by_path.setdefault(job.clip.path, []).append(job.path)
    with events_file.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [(new, float(row["onset_s"]), float(row["offset_s"]), row["fault"])
            for row in rows for new in by_path.get(row["path"], [])]


# ---- mixed training sets -----------------------------------------------------------------------

def mixed_training_set(real_records: Sequence[ClipRecord], synthetic_records: Sequence[ClipRecord], *,
                       real_fraction: float, n_clips: int, rng: np.random.Generator) -> list[ClipRecord]:
    """Normal clips, ``round(real_fraction * n_clips)`` of them real and the rest synthetic.

    Parameters
    ----------
    real_records, synthetic_records : sequence of ClipRecord
        Candidates; only normal clips are used, drawn without replacement.
    real_fraction : float
        0..1.
    n_clips : int
        Total number of clips.
    rng : numpy.random.Generator

    Returns
    -------
    list of ClipRecord
        In random order, split set to ``"train"``; ``source`` and ``root`` kept (provenance).
    """
    if not (0.0 <= real_fraction <= 1.0):
        raise FaultsynthError(f"real fraction must be within [0, 1], got {real_fraction!r}")
    if not (isinstance(n_clips, (int, np.integer)) and n_clips >= 1):
        raise FaultsynthError(f"number of clips must be a whole number >= 1, got {n_clips!r}")
    n_real = int(round(real_fraction * n_clips))
    chosen = []
    for what, pool, n in (("real", real_records, n_real), ("synthetic", synthetic_records, n_clips - n_real)):
        normal = [r for r in pool if r.label == "normal"]
        if n > len(normal):
            raise FaultsynthError(f"{n} {what} normal clips requested but only {len(normal)} available: "
                                  "lower the count or change the real fraction")
        picks = rng.choice(len(normal), size=n, replace=False) if n else []
        chosen.extend(normal[int(i)] for i in picks)
    order = rng.permutation(len(chosen))
    return [chosen[int(i)].replace(split="train") for i in order]


def _copy_one(item: tuple[str, tuple]) -> tuple[dict, list]:
    root, (path, record, channel, rate, machine, machine_id) = item
    x = _samples(record, channel, rate)
    digest = write_clip(root, path, x, rate)
    params = dict(record.params)
    params.update(origin_path=str(record.file), origin_clip=record.path, origin_root=record.root,
                  origin_machine=record.machine, origin_machine_id=record.machine_id,
                  origin_split=record.split, channel=channel)
    new = record.replace(path=path, split="train", machine=machine, machine_id=machine_id, sample_rate=rate,
                         duration_s=x.size / rate, channels=1, params=jsonable(params), sha256=digest, root="")
    return new.manifest_row(), []


def write_mixed_training_set(real_path: str | Path, synthetic_path: str | Path, out: str | Path, *,
                             real_fraction: float, n_clips: int, seed: int = 0, real_layout: str = "auto",
                             channel: Channel = 0, sample_rate: int | None = None, machine_id: str = "id_00",
                             workers: int = 1, bad: list | None = None,
                             scheduler: str | None = None) -> list[ClipRecord]:
    """Write a training set of real and synthetic normal clips (copies, float32 WAV) to ``out``.

    Clips are decoded (``channel`` of multi-channel recordings, resampled to
    ``sample_rate`` if given) and written as ``<machine>/train/normal_<id>_NNNNNNNN.wav``
    with the synthetic dataset's machine name; params keep ``origin_path``
    and the ``source`` column says real or synthetic. ``scheduler``: a Dask cluster instead
    of local processes (:mod:`datasets.executor`).
    """
    from datasets.loaders import load_records

    limits.check_int("seed", seed, limits.SEED)
    limits.check_int("count", n_clips, limits.COUNT)
    check_machine_id(machine_id)
    if sample_rate is not None:
        limits.check_int("sample rate (Hz)", sample_rate, limits.SAMPLE_RATE_HZ)
    limits.check_float("real fraction", real_fraction, (0.0, 1.0))
    check_scheduler(scheduler)
    _check_output(out, scheduler)
    real = load_records(real_path, layout=real_layout, bad=bad)
    synthetic = load_records(synthetic_path, bad=bad)
    machines = sorted({r.machine for r in synthetic})
    if len(machines) != 1:
        raise FaultsynthError(f"{synthetic_path}: clips of machines {machines}: expected one machine")
    chosen = mixed_training_set(real, synthetic, real_fraction=real_fraction, n_clips=n_clips,
                                rng=np.random.default_rng(np.random.SeedSequence(seed)))
    rates = sorted({r.sample_rate for r in chosen})
    if sample_rate is None and len(rates) > 1:
        raise FaultsynthError(f"the chosen clips have mixed sample rates {rates} Hz: expected one rate; "
                              "pass --sample-rate to resample them")
    rate = sample_rate or rates[0]
    limits.check_dataset_size(_disk_of(out), n_clips=len(chosen), bytes_per_sample=4,
                              workers=processes_here(workers, scheduler),
                              samples_per_clip=max(int(r.duration_s * rate) + 1 for r in chosen))
    numbers = ClipNumbers()
    jobs = [(numbers.next_path(machines[0], "train", "normal", machine_id), r, channel, rate, machines[0],
             machine_id) for r in chosen]
    meta = {"generator": "faultsynth", "version": version(), "command": "mix", "seed": seed,
            "config": {"real": str(Path(real_path).resolve()), "synthetic": str(Path(synthetic_path).resolve()),
                       "real_fraction": real_fraction, "count": n_clips, "channel": channel,
                       "sample_rate": rate, "machine_id": machine_id}}
    return _produce(out, jobs, _copy_one, workers, meta, with_events=False, scheduler=scheduler)

"""Synthesise a labelled dataset: plan the clips, render them in parallel, write atomically, resume.

A clip is a pure function of (config, root seed, clip index): its seed comes
from ``numpy.random.SeedSequence(seed, spawn_key=(index,))``, so output is
byte-identical whatever the number of workers, and a run that was killed
resumes where it stopped (finished clips are journalled; ``manifest.csv`` is
written last, so its presence means the dataset is complete). The dataset's
own files (config, journal, manifest, events) live in ``<root>/.faultsynth/``
(:mod:`datasets.manifest`); a run that fails before its first clip is written
removes what it created, so the corrected command starts cleanly. The root may
also be an fsspec URL, with the same files and guarantees (:mod:`datasets.url_folder`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from datasets import limits
from datasets.atomic import PART_SUFFIX, remove_partial_files, write_text_atomic
from datasets.executor import executor, processes_here
from datasets.layout import ClipNumbers, write_clip
from datasets.manifest import (DATASET_JSON, EVENTS_NAME, MANIFEST_NAME, META_DIR, events_text, find_meta_file,
                               manifest_text, meta_file, write_events, write_manifest)
from datasets.plan import DatasetPlan
from datasets.output_folder import check_output_path, folder_lock
from datasets.records import ClipRecord
from datasets.url_folder import JournalChunks, UrlFolder, is_url, protocol
from errors import FaultsynthError
from generators.base import check_fault, check_severity
from generators.identity import clip_fixed, machine_build
from generators.registry import get_machine, render_clip, sample_clip_params
from provenance import jsonable, version

JOURNAL = "synth-journal.jsonl"
#: The journal under a URL root: a folder of whole files (object stores cannot append).
JOURNAL_CHUNKS = "synth-journal"


@dataclass(frozen=True, kw_only=True)
class SynthConfig(DatasetPlan):
    """What to synthesise; validated on construction.

    The shared fields (machine, faults, severities, count, duration_s,
    sample_rate, seed, machine_id, fixed, per_clip) are :class:`datasets.plan.DatasetPlan`'s:
    ``count`` clips per class (normal train, normal test, each fault x severity level),
    ``machine_id`` the first of ``ids``; ``faults`` empty for a normal-only dataset.

    Parameters
    ----------
    severity_range : (float, float) or None
        Instead of levels: each anomaly clip draws its severity uniformly in this range.
    ids : int
        Machines: ``ids`` machine ids numbered as DCASE does (``machine_id`` then every second
        number: id_00, id_02, ...), each with ``count`` clips per class.
    """

    severity_range: tuple[float, float] | None = None
    ids: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.ids, bool) or not isinstance(self.ids, int) or not 1 <= self.ids <= 50:
            raise FaultsynthError(f"ids must be a whole number of machines in 1..50, got {self.ids!r}")
        if not isinstance(self.per_clip, bool):
            raise FaultsynthError(f"per_clip must be true or false, got {self.per_clip!r}")
        check_clip_plan(machine=self.machine, faults=self.faults, severities=self.severities,
                        count=self.count, duration_s=self.duration_s, seed=self.seed, machine_id=self.machine_id,
                        severity_range=self.severity_range)
        if self.sample_rate is not None:
            limits.check_int("sample rate (Hz)", self.sample_rate, limits.SAMPLE_RATE_HZ)
        check_fixed(self.fixed)

    @property
    def machine_ids(self) -> list[str]:
        """The machine ids of the dataset: ``machine_id`` and the next ``ids - 1`` even steps."""
        first = int(self.machine_id[3:])
        return [f"id_{first + 2 * k:02d}" for k in range(self.ids)]

    @property
    def rate(self) -> int:
        """Sample rate actually used (Hz)."""
        return self.sample_rate or get_machine(self.machine).default_sample_rate

    def to_dict(self) -> dict:
        """JSON-serialisable form (recorded in dataset.json)."""
        d = asdict(self)
        d["faults"] = list(self.faults)
        d["severities"] = list(self.severities)
        d["severity_range"] = list(self.severity_range) if self.severity_range else None
        d["sample_rate"] = self.rate
        d["fixed"] = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in sorted(self.fixed.items())}
        return d


def check_clip_plan(*, machine: str, faults: tuple[str, ...], severities: tuple[float, ...], count: int,
                    duration_s: float, seed: int, machine_id: str,
                    severity_range: tuple[float, float] | None = None) -> None:
    """Validate what every dataset writer (synth, inject) takes; raise FaultsynthError saying what was expected."""
    generator = get_machine(machine)
    for fault in faults:
        if fault == "none":
            raise FaultsynthError("'none' is not a fault: normal clips are always included")
        check_fault(generator, fault)
    if len(set(faults)) != len(faults):
        raise FaultsynthError(f"faults listed twice: {', '.join(faults)}")
    if severity_range is not None:
        lo, hi = (check_severity(s) for s in severity_range)
        if lo > hi:
            raise FaultsynthError(f"severity range must be low:high with low <= high, got {lo}:{hi}")
    elif faults and not severities:
        raise FaultsynthError("no severities given: expected a comma list such as 0.25,0.5,1 or a range lo:hi")
    for s in severities:
        check_severity(s)
    limits.check_clip_numbers(count=count, duration_s=duration_s, seed=seed)
    check_machine_id(machine_id)


def check_machine_id(machine_id) -> str:
    """``machine_id`` if it looks like DCASE's ``id_NN``; else FaultsynthError."""
    if not (isinstance(machine_id, str) and machine_id.startswith("id_") and machine_id[3:].isdigit()
            and len(machine_id) <= 8):
        raise FaultsynthError(f"machine id must look like id_00 (id_ and up to 5 digits), got {machine_id!r}")
    return machine_id


def check_fixed(fixed: Mapping[str, Any]) -> None:
    """Bounds of the fixed parameters every machine shares (SNR); the generators check their own."""
    if "snr_db" in fixed:
        limits.check_range_or_value("snr_db", fixed["snr_db"], limits.SNR_DB, "dB")


@dataclass(frozen=True)
class ClipPlan:
    """One clip to render: its place in the dataset and its class."""

    index: int
    path: str
    split: str
    label: str
    fault: str
    severity: float | None  # None: draw from the config's severity range
    machine_id: str = "id_00"


def plan_clips(config: SynthConfig) -> list[ClipPlan]:
    """Every clip of the dataset, in index order (train normals, test normals, test anomalies)."""
    classes: list[tuple[str, str, str, float | None]] = [("train", "normal", "none", 0.0),
                                                          ("test", "normal", "none", 0.0)]
    for fault in config.faults:
        levels = [None] if config.severity_range is not None else list(config.severities)
        classes += [("test", "anomaly", fault, level) for level in levels]
    plans, numbers = [], ClipNumbers()
    for machine_id in config.machine_ids:
        for split, label, fault, severity in classes:
            for _ in range(config.count):
                path = numbers.next_path(config.machine, split, label, machine_id)
                plans.append(ClipPlan(len(plans), path, split, label, fault, severity, machine_id))
    return plans


def clip_parameters(config: SynthConfig, machine_id: str) -> dict:
    """The ``fixed`` mapping of a clip of ``machine_id``: its machine's build, or the user's values only."""
    if config.per_clip:
        return dict(config.fixed)
    return clip_fixed(config.machine, _build(config.machine, config.seed, machine_id, config.rate,
                                             json.dumps(jsonable(dict(config.fixed)), sort_keys=True)),
                      config.fixed)


@functools.lru_cache(maxsize=64)
def _build(machine: str, seed: int, machine_id: str, rate: int, fixed_json: str) -> dict:
    """Cached :func:`generators.identity.machine_build` (one draw per machine id and process)."""
    return machine_build(machine, seed=seed, machine_id=machine_id, sample_rate=rate, fixed=json.loads(fixed_json))


def clip_seed(root_seed: int, index: int) -> int:
    """Per-clip seed (a 63-bit integer) derived from the root seed and the clip index."""
    state = np.random.SeedSequence(root_seed, spawn_key=(index,)).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def _severity(config: SynthConfig, plan: ClipPlan, seed: int) -> float:
    if plan.severity is not None:
        return plan.severity
    lo, hi = config.severity_range
    u = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,))).random()
    return float(lo + u * (hi - lo))


def _subtype(kind: str) -> str:
    """WAV encoding: 32-bit float keeps vibration in g; 16-bit PCM for sound, as the public datasets."""
    return "FLOAT" if kind == "vibration" else "PCM_16"


def render_and_write(config: SynthConfig, plan: ClipPlan, root: str) -> dict:
    """Render clip ``plan`` and write it atomically under ``root``; return its journal entry."""
    seed = clip_seed(config.seed, plan.index)
    machine = get_machine(config.machine)
    rendered = render_clip(config.machine, fault=plan.fault, severity=_severity(config, plan, seed),
                           duration_s=config.duration_s, sample_rate=config.rate, seed=seed,
                           fixed=clip_parameters(config, plan.machine_id))
    signal = rendered.signal
    params = dict(rendered.params)
    params["units"] = "g" if machine.kind == "vibration" else "full_scale"
    if machine.kind == "audio":
        params["clipped_fraction"] = float(np.mean(np.abs(signal) >= 1.0))
    digest = write_clip(root, plan.path, signal, config.rate, subtype=_subtype(machine.kind),
                        origin="rendering")
    params["machine_identity"] = "per clip" if config.per_clip else plan.machine_id
    record = ClipRecord(path=plan.path, split=plan.split, machine=config.machine, machine_id=plan.machine_id,
                        label=plan.label, fault=plan.fault, severity=float(params["severity"]),
                        source="synthetic", seed=seed, sample_rate=config.rate,
                        duration_s=signal.size / config.rate, channels=1, params=params, sha256=digest)
    events = [[plan.path, e.onset_s, e.offset_s, e.fault] for e in rendered.events]
    return {"index": plan.index, "record": record.manifest_row(), "events": events}


def preflight(config: SynthConfig) -> None:
    """Render a short piece of every class so bad parameters fail before anything is written."""
    machine = get_machine(config.machine)
    probes = [("none", 0.0)] + [(f, max(config.severity_range or config.severities)) for f in config.faults]
    for i, (fault, severity) in enumerate(probes):
        rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(2**31 - 1, i)))
        params = sample_clip_params(machine, rng, fault=fault, severity=severity,
                                    fixed=clip_parameters(config, config.machine_ids[-1]), sample_rate=config.rate)
        params.update(sample_rate=config.rate, duration_s=min(config.duration_s, 0.25))
        machine.render(params, duration_s=params["duration_s"], sample_rate=config.rate, rng=rng)


def _read_journal(path: Path) -> dict[int, dict]:
    """Finished clips from the journal; a torn last line (killed mid-write) is ignored."""
    return _parse_journal(path.read_text(encoding="utf-8").splitlines() if path.exists() else [])


def _parse_journal(lines: Iterable[str]) -> dict[int, dict]:
    """Journal entries by clip index; a torn line is ignored."""
    done = {}
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        done[entry["index"]] = entry
    return done


def _check_or_start(root: Path, config: SynthConfig) -> None:
    """Record the config in dataset.json, or check that an existing one matches (resume).

    A dataset.json whose run never finished a clip (no journal entry, no clip file) is
    a failed start: it is replaced rather than blocking the corrected command.
    """
    text = _dataset_json(config)
    existing = find_meta_file(root, DATASET_JSON)
    if existing is not None:
        if existing.read_text(encoding="utf-8") == text:
            return
        if _started(root):
            raise FaultsynthError(f"{root} holds a dataset made with another configuration: "
                                  "choose a new --out, or delete that folder to start again")
        _remove_failed_start(root)
    elif root.exists() and any(root.iterdir()):
        raise FaultsynthError(f"{root} exists and is not a faultsynth dataset of this configuration: "
                              "expected an empty or new folder")
    write_text_atomic(meta_file(root, DATASET_JSON), text)


def _dataset_json(config: SynthConfig) -> str:
    """The text of dataset.json: generator, version, config and seed."""
    meta = {"generator": "faultsynth", "version": version(), "config": config.to_dict(), "seed": config.seed}
    return json.dumps(meta, indent=2, sort_keys=True) + "\n"


def _started(root: Path) -> bool:
    """True if a run at ``root`` finished a clip (a journal entry or a clip file)."""
    journal = meta_file(root, JOURNAL)
    if journal.is_file() and journal.stat().st_size > 0:
        return True
    own = {META_DIR, DATASET_JSON}
    return any(p.is_file() and not p.name.endswith(PART_SUFFIX)
               for top in root.iterdir() if top.name not in own for p in (top, *top.rglob("*")))


def _remove_failed_start(root: Path) -> None:
    """Empty ``root`` of a run that never finished a clip: everything there is that run's."""
    for entry in root.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def synthesize(config: SynthConfig, out_dir: str | Path, *, workers: int = 1,
               progress: Callable[[int, int], None] | bool = True, scheduler: str | None = None) -> list[ClipRecord]:
    """Write the dataset of ``config`` to ``out_dir`` (resuming a previous run there).

    Parameters
    ----------
    config : SynthConfig
    out_dir : str or Path
        Dataset root; created. A folder left by an interrupted run of the same
        config is completed; any other non-empty folder is refused. A string
        ``protocol://path`` is an fsspec URL (:func:`_synthesize_url`).
    workers : int
        Processes rendering in parallel (output does not depend on it).
    progress : bool or callable
        True for a rich progress bar, False for none, or ``f(done, total)``.
    scheduler : str or None
        Run on a Dask cluster instead of local processes: ``"local:N"`` or
        ``"tcp://HOST:PORT"`` (:mod:`datasets.executor`); the output is the same bytes.

    Returns
    -------
    list of ClipRecord
        One per clip, sorted by path.
    """
    limits.check_int("workers", workers, limits.WORKERS)
    if is_url(out_dir):
        return _synthesize_url(config, out_dir, workers, progress, scheduler)
    root = Path(out_dir)
    check_output_path(root)
    _check_size(config, root, workers, scheduler)
    preflight(config)
    created = not root.exists()
    with folder_lock(root):
        _check_or_start(root, config)
        try:
            return _synthesize_into(config, root, workers, progress, scheduler)
        except Exception:
            if not _started(root):  # nothing of value written: leave no trace that blocks a retry
                if created:
                    shutil.rmtree(root, ignore_errors=True)
                else:
                    _remove_failed_start(root)
            raise


def _synthesize_into(config: SynthConfig, root: Path, workers: int, progress,
                     scheduler: str | None) -> list[ClipRecord]:
    plans = plan_clips(config)
    journal_path = meta_file(root, JOURNAL)
    remove_partial_files(root)  # writes cut short by a kill: redone below
    done = _read_journal(journal_path)
    todo = [p for p in plans if p.index not in done or not (root / p.path).exists()]
    with contextlib.ExitStack() as stack:
        run = stack.enter_context(executor(workers, scheduler))
        # A local pool forks here, before the progress bar starts its refresh thread.
        entries = run(functools.partial(render_and_write, config, root=str(root)), todo)
        advance = stack.enter_context(_progress(progress, len(plans), len(plans) - len(todo)))
        journal = stack.enter_context(journal_path.open("a", encoding="utf-8"))
        for entry in entries:
            journal.write(json.dumps(entry, sort_keys=True) + "\n")
            journal.flush()
            done[entry["index"]] = entry
            advance()
    remove_partial_files(root)  # left by a worker killed mid-write (its clips were redone)
    records, events = _collect(config, plans, done, root)
    if events is not None:
        write_events(root, events)
    write_manifest(root, records)
    journal_path.unlink()
    return sorted(records, key=lambda r: r.path)


def _check_size(config: SynthConfig, disk: Path | None, workers: int, scheduler: str | None) -> None:
    """Memory for the clips rendered at once, and room for the dataset on ``disk`` (None: not a local disk)."""
    limits.check_dataset_size(disk, n_clips=len(config.machine_ids) * config.count * (
                                  2 + len(config.faults) * max(1, len(config.severities))),
                              samples_per_clip=int(round(config.duration_s * config.rate)),
                              bytes_per_sample=4 if get_machine(config.machine).kind == "vibration" else 2,
                              workers=processes_here(workers, scheduler))


def _collect(config: SynthConfig, plans: list[ClipPlan], done: dict[int, dict],
             root: str | Path) -> tuple[list[ClipRecord], list[tuple] | None]:
    """Records of every planned clip, and the events to write (None: the dataset has no events.csv)."""
    entries = [done[p.index] for p in plans]
    records = [ClipRecord.from_manifest_row(e["record"], root=root) for e in entries]
    events = [tuple(ev) for e in entries for ev in e["events"]]
    with_events = events or any(get_machine(config.machine).faults[f].time_localised for f in config.faults)
    return records, events if with_events else None


def _synthesize_url(config: SynthConfig, url: str, workers: int, progress,
                    scheduler: str | None) -> list[ClipRecord]:
    """:func:`synthesize` into an fsspec URL (:mod:`datasets.url_folder`): the same files, bytes and resume."""
    folder = UrlFolder(url)
    if folder.process_local and (workers > 1 or scheduler is not None):
        raise FaultsynthError(f"{url}: the files of {protocol(url)}:// live in this process only: expected "
                              "--workers 1 and no --scheduler")
    local = folder.local_path
    if local is not None:
        check_output_path(local)
    _check_size(config, local, workers, scheduler)
    preflight(config)
    created = not folder.exists()
    with folder_lock(local) if local is not None else contextlib.nullcontext():
        _check_or_start_url(folder, config)
        try:
            return _synthesize_url_into(config, folder, workers, progress, scheduler)
        except Exception:
            if not _started_url(folder):
                folder.clear(remove_root=created)
            raise


def _check_or_start_url(folder: UrlFolder, config: SynthConfig) -> None:
    """:func:`_check_or_start` on a URL root."""
    text = _dataset_json(config)
    existing = folder.read_text(f"{META_DIR}/{DATASET_JSON}")
    if existing is not None:
        if existing == text:
            return
        if _started_url(folder):
            raise FaultsynthError(f"{folder.url} holds a dataset made with another configuration: "
                                  "choose a new --out, or delete it to start again")
        folder.clear(remove_root=False)
    elif folder.files():
        raise FaultsynthError(f"{folder.url} exists and is not a faultsynth dataset of this configuration: "
                              "expected an empty or new location")
    folder.write_text(f"{META_DIR}/{DATASET_JSON}", text)


def _started_url(folder: UrlFolder) -> bool:
    """:func:`_started` on a URL root: a journal chunk or a finished clip file."""
    return any(not p.endswith(PART_SUFFIX) and (p.startswith(f"{META_DIR}/{JOURNAL_CHUNKS}/")
                                                or not p.startswith(f"{META_DIR}/"))
               for p in folder.files())


def _synthesize_url_into(config: SynthConfig, folder: UrlFolder, workers: int, progress,
                         scheduler: str | None) -> list[ClipRecord]:
    """:func:`_synthesize_into` on a URL root (a chunked journal; one listing instead of a check per clip)."""
    plans = plan_clips(config)
    folder.remove_partial_files()
    journal = JournalChunks(folder, f"{META_DIR}/{JOURNAL_CHUNKS}")
    done = _parse_journal(journal.lines())
    present = folder.files()
    todo = [p for p in plans if p.index not in done or p.path not in present]
    with contextlib.ExitStack() as stack:
        run = stack.enter_context(executor(workers, scheduler))
        entries = run(functools.partial(render_and_write, config, root=folder.url), todo)
        advance = stack.enter_context(_progress(progress, len(plans), len(plans) - len(todo)))
        stack.enter_context(journal)
        for entry in entries:
            journal.write(json.dumps(entry, sort_keys=True))
            done[entry["index"]] = entry
            advance()
    folder.remove_partial_files()
    records, events = _collect(config, plans, done, folder.url)
    if events is not None:
        folder.write_text(f"{META_DIR}/{EVENTS_NAME}", events_text(events))
    folder.write_text(f"{META_DIR}/{MANIFEST_NAME}", manifest_text(records))
    folder.remove(f"{META_DIR}/{JOURNAL_CHUNKS}")
    return sorted(records, key=lambda r: r.path)


class _progress:
    """Context manager giving an ``advance()`` callable: rich bar, callback or nothing."""

    def __init__(self, progress, total: int, completed: int) -> None:
        self.progress, self.total, self.completed, self.bar = progress, total, completed, None

    def __enter__(self) -> Callable[[], None]:
        if self.progress is True:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeRemainingColumn)
            self.bar = Progress(TextColumn("synth"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                transient=False)
            self.bar.start()
            task = self.bar.add_task("synth", total=self.total, completed=self.completed)
            return lambda: self.bar.advance(task)
        if callable(self.progress):
            state = {"n": self.completed}

            def advance() -> None:
                state["n"] += 1
                self.progress(state["n"], self.total)
            return advance
        return lambda: None

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def parse_severities(text: str) -> tuple[tuple[float, ...], tuple[float, float] | None]:
    """Parse ``--severities``: a comma list (levels) or ``lo:hi`` (a range).

    Returns
    -------
    (levels, range)
        One of the two is empty / None.
    """
    try:
        if ":" in text:
            lo, hi = (float(v) for v in text.split(":"))
            return (), (lo, hi)
        return tuple(float(v) for v in text.split(",") if v.strip()), None
    except ValueError:
        raise FaultsynthError(f"severities: expected a comma list such as 0.25,0.5,1 or a range lo:hi, "
                              f"got {text!r}") from None


def parse_value_or_range(name: str, text: str | float | Iterable) -> float | tuple[float, float]:
    """Parse a physical parameter given as ``value`` or ``lo:hi`` (CLI) or [lo, hi] (TOML)."""
    try:
        if isinstance(text, str) and ":" in text:
            lo, hi = (float(v) for v in text.split(":"))
            return (lo, hi)
        if isinstance(text, (list, tuple)):
            lo, hi = (float(v) for v in text)
            return (lo, hi)
        return float(text)
    except (TypeError, ValueError):
        raise FaultsynthError(f"{name}: expected a number or a range lo:hi, got {text!r}") from None

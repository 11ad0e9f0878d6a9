"""Read any supported dataset folder (or one file) into :class:`ClipRecord` objects.

One entry point, :func:`load_records`. The layout is detected from the file
names and overridable. Loading is lazy: only headers are read (WAV header,
.mat variable list); samples are read by :func:`datasets.audio.load_audio`.

Layouts (details in datasets/load_dcase.py, load_cwru.py, load_wav.py):

=============  ===================================================================
faultsynth     a folder with ``.faultsynth/manifest.csv`` (records as written; checksums verified)
dcase2020      ``<machine>/{train,test}/{normal,anomaly}_id_XX_NNNNNNNN.wav``
dcase2021      ``<machine>/{train,test}/section_XX_<domain>_<split>_<label>_NNNN_<attrs>.wav`` (2021-2025)
mimii          ``[<snr>_dB_<machine>/]<machine>/id_XX/{normal,abnormal}/NNNNNNNN.wav``
toyadmos       ``<ToyCar|ToyConveyor|ToyTrain>/caseN/<Normal|Anomalous>Sound_*/*chN*.wav``
cwru           CWRU bearing ``.mat`` files
wav            any WAV files (never detected automatically: ask for it)
=============  ===================================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from datasets.load_cwru import cwru_record
from datasets.load_dcase import (DCASE2020_NAME, DCASE2021_ANY, MIMII_ID, TOYADMOS_CASE, TOYADMOS_FOLDER,
                                 TOYADMOS_NOISE, dcase2020_record, dcase2021_record, mimii_record,
                                 toyadmos_record)
from datasets.load_wav import generic_record
from datasets.manifest import MANIFEST_NAME, is_faultsynth_dataset, read_manifest
from datasets.records import SPLITS, ClipRecord
from errors import FaultsynthError
from provenance import sha256_file

LAYOUTS = ("mimii", "toyadmos", "dcase2020", "dcase2021", "cwru", "faultsynth", "wav")

#: A list that collects (file, message) of bad files instead of raising.
BadList = list


def load_records(path: str | Path, *, layout: str = "auto", machine: str | None = None,
                 split: str | None = None, verify: bool = True,
                 bad: BadList | None = None) -> list[ClipRecord]:
    """Records of a dataset folder or of a single ``.wav``/``.mat`` file.

    Parameters
    ----------
    path : str or Path
        Dataset root folder, or one file (its folder is then the root).
    layout : str
        ``"auto"`` (detect) or one of :data:`LAYOUTS`.
    machine : str, optional
        Keep only this machine's clips (case-insensitive); for the ``wav``
        layout, whose files do not name their machine, the machine to record.
    split : {"train", "test"}, optional
        Split to give clips of datasets without a split (MIMII, ToyADMOS,
        CWRU, wav; default ``"test"``); for DCASE layouts it overrides the
        split of the file names.
    verify : bool
        For faultsynth datasets: check that every listed file exists and that
        its sha256 matches the manifest (reads every file); a mismatch is an
        error naming the file (or a ``bad`` entry).
    bad : list, optional
        If given, files that cannot be read are appended as ``(file, message)``
        and skipped instead of raising.

    Returns
    -------
    list of ClipRecord
        Sorted by path; ``root`` = the dataset root, ``path`` relative to it.

    Raises
    ------
    FaultsynthError
        Missing path, unknown or ambiguous layout, no clips, a file that does
        not match its layout or cannot be read (unless ``bad`` is given).
    """
    path = Path(path)
    if layout != "auto" and layout not in LAYOUTS:
        raise FaultsynthError(f"unknown layout {layout!r}: expected auto or one of {', '.join(LAYOUTS)}")
    if split is not None and split not in SPLITS:
        raise FaultsynthError(f"split must be one of {SPLITS}, got {split!r}")
    if not path.exists():
        raise FaultsynthError(f"{path}: no such file or folder: expected a dataset folder, .wav or .mat file")
    if path.is_file():
        root, files = path.parent, [path]
    elif is_faultsynth_dataset(path) and layout in ("auto", "faultsynth"):
        return _faultsynth(path, machine=machine, split=split, verify=verify, bad=bad)
    else:
        root = path
        files = _dataset_files(path)
        if not files:
            raise FaultsynthError(f"{path}: no .wav or .mat files: expected a dataset in one of the layouts "
                                  f"{', '.join(LAYOUTS)}")
    if layout == "faultsynth":
        raise FaultsynthError(f"{path}: no {MANIFEST_NAME}: expected a faultsynth dataset folder")
    if layout == "auto":
        layout = detect_layout(files, single=path.is_file())
    make = _MAKERS[layout]
    records = []
    for file in files:
        try:
            record = make(file, root=root, split=split, machine=machine)
        except (FaultsynthError, OSError) as exc:
            message = str(exc) if isinstance(exc, FaultsynthError) else unreadable(file, exc)
            if bad is None:
                raise FaultsynthError(message) from None
            bad.append((str(file), message))
            continue
        if record is not None:
            records.append(record)
    if layout != "wav":
        records = _keep_machine(records, machine, path)
    if not records:
        raise FaultsynthError(f"{path}: no readable clips in the {layout} layout")
    return sorted(records, key=lambda r: r.path)


def layout_of(path: str | Path, *, layout: str = "auto") -> str:
    """Name of the layout :func:`load_records` uses for ``path`` (detected when ``"auto"``)."""
    path = Path(path)
    if layout != "auto":
        return layout
    if is_faultsynth_dataset(path):
        return "faultsynth"
    if path.is_file():
        return detect_layout([path], single=True)
    files = _dataset_files(path)
    if not files:
        raise FaultsynthError(f"{path}: no .wav or .mat files: expected a dataset in one of the layouts "
                              f"{', '.join(LAYOUTS)}")
    return detect_layout(files)


def detect_layout(files: list[Path], *, single: bool = False) -> str:
    """The one layout the file paths follow (see module docstring); raise if none or several.

    A single ``.wav`` whose name and folders match no dataset layout is read
    with the ``wav`` layout.
    """
    found: dict[str, Path] = {}
    unknown = []
    for file in files:
        kind = classify(file)
        if kind is None:
            unknown.append(file)
        else:
            found.setdefault(kind, file)
    if len(found) == 1:
        return next(iter(found))
    if not found and single and files[0].suffix.lower() == ".wav":
        return "wav"
    if found:
        examples = "; ".join(f"{k}: {v}" for k, v in found.items())
        raise FaultsynthError(f"several layouts found ({examples}): expected one dataset; pass a sub-folder "
                              f"or --layout")
    raise FaultsynthError(f"unknown layout (e.g. {unknown[0]}): expected one of {', '.join(LAYOUTS)}; "
                          "use --layout wav for plain recordings")


def classify(file: Path) -> str | None:
    """Layout a single file path follows, or None."""
    if file.suffix.lower() == ".mat":
        return "cwru"
    parts = file.parts
    if DCASE2021_ANY.match(file.name):
        return "dcase2021"
    if DCASE2020_NAME.match(file.name) and parts[-2].lower() in ("train", "test"):
        return "dcase2020"
    if len(parts) >= 4 and parts[-2].lower() in ("normal", "abnormal") and MIMII_ID.match(parts[-3]):
        return "mimii"
    if (len(parts) >= 4 and TOYADMOS_CASE.match(parts[-3])
            and (TOYADMOS_FOLDER.match(parts[-2]) or TOYADMOS_NOISE.match(parts[-2]))):
        return "toyadmos"
    return None


def _dataset_files(root: Path) -> list[Path]:
    """.wav and .mat files under ``root``, skipping hidden files and folders (e.g. unfinished writes)."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in (".wav", ".mat") and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def unreadable(file: str | Path, exc: OSError) -> str:
    """The message for a file the operating system will not read."""
    return f"{file}: cannot read it ({exc.strerror or exc}): expected a readable file"


def _faultsynth(root: Path, *, machine: str | None, split: str | None, verify: bool,
                bad: BadList | None) -> list[ClipRecord]:
    records = read_manifest(root)
    if not records:
        raise FaultsynthError(f"{root}: its {MANIFEST_NAME} has no rows: expected at least one clip")
    if split is not None:
        records = [r for r in records if r.split == split]
    records = _keep_machine(records, machine, root)
    if verify:
        kept = []
        for record in records:
            problem = None
            try:
                if not record.file.is_file():
                    problem = f"{record.file}: listed in {MANIFEST_NAME} but missing"
                elif record.sha256 and sha256_file(record.file) != record.sha256:
                    problem = (f"{record.file}: sha256 differs from the dataset's {MANIFEST_NAME}: the file changed "
                               "or is corrupt")
            except OSError as exc:
                problem = unreadable(record.file, exc)
            if problem is None:
                kept.append(record)
            elif bad is None:
                raise FaultsynthError(problem)
            else:
                bad.append((str(record.file), problem))
        records = kept
    return sorted(records, key=lambda r: r.path)


def _keep_machine(records: list[ClipRecord], machine: str | None, path: Path) -> list[ClipRecord]:
    if machine is None:
        return records
    kept = [r for r in records if r.machine == machine.lower()]
    if records and not kept:
        found = sorted({r.machine for r in records})
        raise FaultsynthError(f"{path}: no clips of machine {machine!r}: expected one of {', '.join(found)}")
    return kept


def _wav_only(maker: Callable) -> Callable:
    def make(file: Path, *, root: Path, split: str | None, machine: str | None):
        if file.suffix.lower() != ".wav":
            raise FaultsynthError(f"{file}: expected a .wav file in this layout")
        return maker(file, root=root, split=split)
    return make


def _cwru(file: Path, *, root: Path, split: str | None, machine: str | None) -> ClipRecord:
    if file.suffix.lower() != ".mat":
        raise FaultsynthError(f"{file}: expected a CWRU .mat file")
    return cwru_record(file, root=root, split=split or "test")


def _wav(file: Path, *, root: Path, split: str | None, machine: str | None) -> ClipRecord:
    if file.suffix.lower() != ".wav":
        raise FaultsynthError(f"{file}: expected a .wav file in the wav layout")
    return generic_record(file, root=root, split=split or "test", machine=machine)


_MAKERS: dict[str, Callable] = {
    "dcase2020": _wav_only(dcase2020_record),
    "dcase2021": _wav_only(dcase2021_record),
    "mimii": _wav_only(mimii_record),
    "toyadmos": _wav_only(toyadmos_record),
    "cwru": _cwru,
    "wav": _wav,
}

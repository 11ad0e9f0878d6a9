"""Build and run the C runtime (firmware/) for the host and for a Cortex-M4 under QEMU.

Host: the system C compiler, ``-std=c99 -Wall -Wextra -Werror -O2 -ffp-contract=off``
(no fused multiply-add, so float arithmetic is the same as on the Cortex-M4).
Cortex-M4: ``arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard
-mfpu=fpv4-sp-d16``, newlib's libm only (no stdio, no heap), own startup, linker
script and semihosting calls; run on QEMU's ``mps2-an386`` with ``-icount
shift=0`` so that SysTick ticks count guest instructions (calibrated each run
against a loop of known instruction count).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from errors import FaultsynthError

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"
COMMON_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-ffp-contract=off"]
M4_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-ffunction-sections",
            "-fdata-sections"]
QEMU_MACHINE = "mps2-an386"


def runtime_sources() -> list[Path]:
    """The portable runtime's C files."""
    return sorted((FIRMWARE / "src").glob("*.c"))


def _run(cmd: Sequence[str], *, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FaultsynthError(f"command timed out after {timeout:g} s: {' '.join(map(str, cmd))}") from None
    if proc.returncode != 0:
        raise FaultsynthError(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
                              f"{proc.stdout[-2000:]}{proc.stderr[-4000:]}")
    return proc


def host_compiler() -> str:
    """Path of the host C compiler (``$CC``, else cc/gcc/clang); FaultsynthError when none."""
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise FaultsynthError("no host C compiler found (cc, gcc or clang): install one to build the runtime")


def arm_tools() -> dict[str, str] | None:
    """Paths of arm-none-eabi-gcc, arm-none-eabi-size and qemu-system-arm, or None if any is missing."""
    names = {"gcc": "arm-none-eabi-gcc", "size": "arm-none-eabi-size", "qemu": "qemu-system-arm"}
    found = {k: shutil.which(v) for k, v in names.items()}
    return None if any(v is None for v in found.values()) else found


def missing_arm_tools() -> list[str]:
    """Names of the Cortex-M4 tools that are not installed."""
    return [n for n in ("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm") if shutil.which(n) is None]


def build_host(c_dir: str | Path, out_dir: str | Path, *, extra_flags: Sequence[str] = ()) -> Path:
    """Compile the host driver against the generated tables in ``c_dir``; return the executable."""
    c_dir, out_dir = Path(c_dir), Path(out_dir)
    if not (c_dir / "fs_params.c").is_file():
        raise FaultsynthError(f"{c_dir}: no fs_params.c: expected the c/ folder written by `export`")
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / "fs_host"
    # model_data.c (the .tflite for TFLM) is compiled too, to check the generated C; the runtime does not use it.
    extra_sources = [c_dir / "model_data.c"] if (c_dir / "model_data.c").is_file() else []
    _run([host_compiler(), *COMMON_FLAGS, *extra_flags, "-I", FIRMWARE / "include", "-I", c_dir,
          *runtime_sources(), FIRMWARE / "host" / "main.c", c_dir / "fs_params.c", *extra_sources,
          "-o", exe, "-lm"])
    return exe


def build_m4(c_dir: str | Path, out_dir: str | Path, *, opt: str = "-O2") -> Path:
    """Cross-compile the Cortex-M4 application (ELF) for QEMU mps2-an386."""
    tools = arm_tools()
    if tools is None:
        raise FaultsynthError(f"Cortex-M4 toolchain missing: {', '.join(missing_arm_tools())} "
                              "(install gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-system-arm)")
    c_dir, out_dir = Path(c_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    elf = out_dir / "fs_m4.elf"
    flags = [f for f in COMMON_FLAGS if f != "-O2"] + [opt]
    _run([tools["gcc"], *flags, *M4_FLAGS, "-I", FIRMWARE / "include", "-I", c_dir, "-I", FIRMWARE / "m4",
          *runtime_sources(), FIRMWARE / "m4" / "main.c", FIRMWARE / "m4" / "startup.c",
          FIRMWARE / "m4" / "semihost.c", c_dir / "fs_params.c",
          "-nostartfiles", "--specs=nosys.specs", "-Wl,--gc-sections", f"-Wl,-Map={out_dir / 'fs_m4.map'}",
          "-T", FIRMWARE / "m4" / "mps2_an386.ld", "-o", elf, "-lm"])
    return elf


def elf_sizes(elf: str | Path) -> dict[str, int]:
    """text/data/bss of an ELF (arm-none-eabi-size, Berkeley format), without the reserved stack."""
    tools = arm_tools()
    if tools is None:
        raise FaultsynthError("arm-none-eabi-size is missing")
    out = _run([tools["size"], "-A", str(elf)]).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    text = sizes.get(".text", 0) + sizes.get(".ARM.exidx", 0)
    return {"text": text, "data": sizes.get(".data", 0), "bss": sizes.get(".bss", 0),
            "stack_reserved": sizes.get(".stack", 0)}


def write_clip(samples: np.ndarray, path: str | Path) -> Path:
    """Write mono samples as raw little-endian float32 (the runtime's input format)."""
    x = np.asarray(samples, dtype="<f4")
    if x.ndim != 1:
        raise FaultsynthError(f"expected mono samples (n,), got shape {x.shape}")
    path = Path(path)
    x.tofile(path)
    return path


@dataclass(frozen=True)
class ClipResult:
    """One clip as the C runtime scored it.

    decision : 1 anomalous, 0 normal, -1 no complete window
    n_windows : feature vectors scored
    raw_sum : int (autoencoder: integer score sum) or float (k-means: distance sum)
    ticks : SysTick ticks spent (Cortex-M4 only; 0 on the host)
    alarm : (events, first alarm window or -1, windows in alarm, FNV-1a digest of the per-window
        alarm states): the streaming N-of-M alarm over the clip (pipeline.streaming)
    """

    decision: int
    n_windows: int
    raw_sum: float
    ticks: int = 0
    alarm: tuple = (0, -1, 0, 0)

    def score(self) -> float:
        """Clip score in the device's integer score domain (mean over windows)."""
        return self.raw_sum / self.n_windows if self.n_windows else float("nan")


def _parse_clip(parts: list[str], kind: str) -> ClipResult:
    from pipeline.device_scorer import scorer_class

    raw = scorer_class(kind).decode_sum(int(parts[3], 16))
    alarm = (int(parts[5]), int(parts[6]) - 1, int(parts[7]), int(parts[8], 16))
    return ClipResult(decision=int(parts[1]), n_windows=int(parts[2]), raw_sum=raw, ticks=int(parts[4]),
                      alarm=alarm)


def run_host_stream(exe: str | Path, clip_file: str | Path, *, kind: str) -> tuple[np.ndarray, np.ndarray,
                                                                                  ClipResult]:
    """Per-window (scores int64, alarm states bool) and the clip result of one clip on the host build."""
    out = _run([exe, "stream", clip_file]).stdout.splitlines()
    windows = [line.split() for line in out if line.startswith("window ")]
    clips = [line.split() for line in out if line.startswith("clip ")]
    if len(clips) != 1:
        raise FaultsynthError(f"host runtime gave no clip line for {clip_file}:\n{chr(10).join(out[-5:])}")
    return (np.array([int(w[1]) for w in windows], dtype=np.int64), np.array([w[2] == "1" for w in windows]),
            _parse_clip(clips[0], kind))


def alarm_record(states: np.ndarray) -> tuple:
    """(events, first alarm window or -1, windows in alarm, digest) of per-window alarm states, as the drivers."""
    from pipeline.streaming import alarm_events, fnv1a

    states = np.asarray(states, dtype=bool)
    first = int(np.argmax(states)) if states.any() else -1
    return (alarm_events(states), first, int(states.sum()), fnv1a(states))


def run_host(exe: str | Path, clip_files: Sequence[str | Path], *, kind: str) -> list[ClipResult]:
    """Run the host build on raw float32 clips."""
    if not clip_files:
        return []
    out = _run([exe, "clip", *clip_files]).stdout
    results = [_parse_clip(line.split(), kind) for line in out.splitlines() if line.startswith("clip ")]
    if len(results) != len(clip_files):
        raise FaultsynthError(f"host runtime scored {len(results)} of {len(clip_files)} clips:\n{out[-1000:]}")
    return results


@dataclass
class QemuRun:
    """Results of one QEMU run: clips, instructions per tick (calibrated), stack high-water."""

    clips: list = field(default_factory=list)
    instructions_per_tick: float = 0.0
    stack_bytes: int = 0
    output: str = ""
    bench_instructions_per_window: float | None = None
    bench_instructions_per_frame: float | None = None


#: Bytes of the clip list the Cortex-M4 driver reads at once (its g_list buffer, less the terminator).
QEMU_LIST_BYTES = 2047


def run_qemu(elf: str | Path, clip_files: Sequence[str | Path], *, kind: str, bench: bool = False,
             timeout: float = 900) -> QemuRun:
    """Run the Cortex-M4 ELF under QEMU mps2-an386 (semihosting, -icount shift=0) on raw clips.

    QEMU runs in a temporary folder holding short symbolic links to the clips
    (semihosting opens them relative to it); the clips are split over several
    QEMU runs when their list exceeds the driver's 2 KB buffer. ``bench=True`` also times 100 window
    scores (model + score, no front end) and 10 front-end frames (features of one frame, no framing):
    ``QemuRun.bench_instructions_per_window`` and ``bench_instructions_per_frame``.
    """
    tools = arm_tools()
    if tools is None:
        raise FaultsynthError(f"QEMU/toolchain missing: {', '.join(missing_arm_tools())}")
    files = [Path(f).resolve() for f in clip_files]
    for f in files:
        if not f.is_file():
            raise FaultsynthError(f"no clip file {f}")
    names = [f"c{i:05d}.f32" for i in range(len(files))]
    per_run = (QEMU_LIST_BYTES - len("@bench\n")) // (len(names[0]) + 1) if names else 1
    batches = [names[i:i + per_run] for i in range(0, len(names), per_run)] or [[]]
    run = QemuRun()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        for name, f in zip(names, files):
            (cwd / name).symlink_to(f)
        parts = [_qemu_once(tools["qemu"], elf, cwd, batch + (["@bench"] if bench and i == 0 else []), kind,
                            timeout=timeout) for i, batch in enumerate(batches)]
    for part in parts:
        run.clips += part.clips
        run.output += part.output
        run.instructions_per_tick = part.instructions_per_tick
        run.stack_bytes = max(run.stack_bytes, part.stack_bytes)
        if part.bench_instructions_per_window is not None:
            run.bench_instructions_per_window = part.bench_instructions_per_window
            run.bench_instructions_per_frame = part.bench_instructions_per_frame
    if len(run.clips) != len(files):
        raise FaultsynthError(f"QEMU runs gave {len(run.clips)} of {len(files)} clips:\n{run.output[-2000:]}")
    return run


def _qemu_once(qemu: str, elf: str | Path, cwd: Path, listing: list[str], kind: str, *,
               timeout: float) -> QemuRun:
    """One QEMU session on the clip names in ``listing`` (relative to ``cwd``)."""
    (cwd / "fs_clips.txt").write_text("\n".join(listing) + "\n")
    try:
        proc = subprocess.run([qemu, "-M", QEMU_MACHINE, "-nographic", "-icount", "shift=0",
                               "-semihosting-config", "enable=on,target=native", "-kernel", str(Path(elf).resolve())],
                              cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise FaultsynthError(f"QEMU did not finish within {timeout:g} s: use fewer or shorter clips") from None
    out = proc.stdout + proc.stderr  # QEMU writes semihosting console output to stderr
    if proc.returncode != 0 or "error" in out:
        raise FaultsynthError(f"QEMU run failed ({proc.returncode}):\n{out[-2000:]}")
    run = QemuRun(output=out)
    bench_ticks = frame_ticks = None
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "clip":
            run.clips.append(_parse_clip(parts, kind))
        elif parts[0] == "calib":
            run.instructions_per_tick = int(parts[2]) / int(parts[1])
        elif parts[0] == "stack":
            run.stack_bytes = int(parts[1])
        elif parts[0] == "bench":
            bench_ticks = int(parts[1]) / int(parts[2])
        elif parts[0] == "frame":
            frame_ticks = int(parts[1]) / int(parts[2])
    n_clips = len([n for n in listing if not n.startswith("@")])
    if len(run.clips) != n_clips or run.instructions_per_tick <= 0:
        raise FaultsynthError(f"QEMU run gave {len(run.clips)} of {n_clips} clips:\n{out[-2000:]}")
    if bench_ticks is not None:
        run.bench_instructions_per_window = bench_ticks * run.instructions_per_tick
        run.bench_instructions_per_frame = frame_ticks * run.instructions_per_tick
    return run


# ---------------------------------------------------------------- the `firmware` command's work

FIRMWARE_JSON = "firmware.json"
#: Targets for the default TinyML autoencoder on 16 kHz audio.
TARGETS = {"flash_bytes": 64 * 1024, "ram_bytes": 32 * 1024, "instructions_per_audio_second": 8_000_000}


def _pick_clips(records: list, max_clips: int) -> list:
    """Up to ``max_clips`` clips, test split first, alternating anomalies and normals.

    Anomalies are taken in turn from each (fault, severity) group, so that a few clips already
    cover every fault type and severity the dataset has.
    """
    test = [r for r in records if r.split == "test"] or list(records)
    groups: dict = {}
    for r in test:
        if r.label == "anomaly":
            groups.setdefault((str(r.fault), str(r.severity)), []).append(r)
    queues = list(groups.values())
    anomalies = []
    while any(queues):
        for q in queues:
            if q:
                anomalies.append(q.pop(0))
    normals = [r for r in test if r.label != "anomaly"]
    picked = []
    while len(picked) < max_clips and (anomalies or normals):
        for group in (anomalies, normals):
            if group and len(picked) < max_clips:
                picked.append(group.pop(0))
    return picked


def python_windows(scorer, features: np.ndarray, *, use_tflm: bool = True) -> np.ndarray:
    """Device window scores (int64) of one clip's Python features (TFLM runs the int8 model)."""
    outputs = scorer.interpreter_outputs(features) if use_tflm else None
    return scorer.window_scores(features, outputs=outputs)


def python_reference(scorer, features: np.ndarray, *, use_tflm: bool = True) -> tuple[float, int]:
    """(device clip score, decision) of one clip's Python features (TFLM runs the int8 model)."""
    score, anomalous = scorer.clip_result(python_windows(scorer, features, use_tflm=use_tflm))
    return score, int(anomalous)


def alarm_summary(config, scorer, labels: Sequence[str], records: Sequence[tuple], n_samples: Sequence[int]) -> dict:
    """Alarm latency on fault clips and false alarms per hour on normal clips, from per-clip alarm records.

    Parameters
    ----------
    config : FeatureConfig
    scorer : DeviceScorer (its ``alarm`` rule)
    labels : "anomaly" or "normal" per clip
    records : :func:`alarm_record` per clip
    n_samples : samples per clip

    Returns
    -------
    dict
        ``latency_s`` per fault clip (time from the clip start, where the fault is already present,
        to the end of the window that raised the alarm; None when it never did), ``fault_clips_alarmed``,
        ``median_latency_s``, ``false_alarms`` and ``false_alarms_per_hour`` on the normal clips (alarm
        onsets per hour of normal audio), ``normal_audio_s``.
    """
    from pipeline.streaming import min_latency_s, window_end_samples

    sr = float(config.sample_rate)
    latencies, false_alarms, normal_s = [], 0, 0.0
    for label, (events, first, _, _), n in zip(labels, records, n_samples):
        if label == "anomaly":
            if first < 0:
                latencies.append(None)
            else:
                latencies.append(float(window_end_samples(config, first + 1, n)[first]) / sr)
        else:
            false_alarms += events
            normal_s += n / sr
    seen = [v for v in latencies if v is not None]
    return {"n": scorer.alarm.n, "m": scorer.alarm.m, "min_latency_s": min_latency_s(config, scorer.alarm),
            "latency_s": latencies, "fault_clips": len(latencies), "fault_clips_alarmed": len(seen),
            "median_latency_s": float(np.median(seen)) if seen else None,
            "false_alarms": false_alarms, "normal_audio_s": normal_s,
            "false_alarms_per_hour": false_alarms / normal_s * 3600.0 if normal_s > 0 else None}


def run_firmware(*, export_dir: str | Path, clips: str | Path, out_dir: str | Path, max_clips: int = 8) -> dict:
    """Build the runtime for host and Cortex-M4, run both on clips, compare with Python.

    Returns (and writes to OUT/firmware.json) a dict with at least ``elf`` (path relative to OUT),
    ``flash_bytes``, ``ram_bytes``, ``instructions_per_audio_second`` and
    ``decisions_match_python`` (None where the Cortex-M4 part was skipped, with
    ``skipped`` saying why).
    """
    import json

    from datasets.audio import load_audio
    from datasets.atomic import write_text_atomic
    from datasets.loaders import load_records
    from pipeline.device_scorer import load_scorer
    from pipeline.export_files import read_export_json
    from pipeline.features import FeatureConfig, extract, select_channel

    if int(max_clips) < 1:
        raise FaultsynthError(f"--max-clips must be >= 1, got {max_clips}")
    export_dir, out_dir = Path(export_dir), Path(out_dir)
    meta = read_export_json(export_dir)
    c_dir = export_dir / "c"
    if meta.get("c_sources") is None:
        raise FaultsynthError(f"{export_dir}: {meta.get('c_sources_skipped', 'no C sources')}")
    if not (c_dir / "fs_params.c").is_file():
        raise FaultsynthError(f"{export_dir}: no c/fs_params.c: export the model again")
    config = FeatureConfig.from_dict(meta["feature_config"])
    scorer = load_scorer(export_dir)
    kind = scorer.kind

    records = [r for r in load_records(clips) if int(r.sample_rate) == int(config.sample_rate)]
    if not records:
        raise FaultsynthError(f"{clips}: no clips at the model's {config.sample_rate} Hz")
    chosen = _pick_clips(records, int(max_clips))
    clip_dir = out_dir / "clips"
    clip_dir.mkdir(parents=True, exist_ok=True)
    files, py, py_alarm, lengths, seconds = [], [], [], [], 0.0
    for i, record in enumerate(chosen):
        y = select_channel(config, load_audio(record, channel=None))
        y = np.asarray(y, dtype=np.float32)
        files.append(write_clip(y, clip_dir / f"clip_{i:03d}.f32"))
        seconds += y.size / float(config.sample_rate)
        lengths.append(int(y.size))
        windows = python_windows(scorer, extract(config, y))
        score, anomalous = scorer.clip_result(windows)
        py.append((score, int(anomalous)))
        py_alarm.append(alarm_record(scorer.alarm_states(windows)))

    build = out_dir / "build"
    host_exe = build_host(c_dir, build / "host")
    host = run_host(host_exe, files, kind=kind)
    py_scores = np.array([s for s, _ in py])
    host_scores = np.array([r.score() for r in host])
    result: dict = {
        "export": str(export_dir.resolve()), "detector": kind, "clips": [str(r.file) for r in chosen],
        "labels": [r.label for r in chosen], "audio_seconds": seconds,
        "python": {"scores": py_scores.tolist(), "decisions": [d for _, d in py]},
        "host": {"executable": str(host_exe.relative_to(out_dir)), "scores": host_scores.tolist(),
                 "decisions": [r.decision for r in host],
                 "decisions_match_python": [r.decision for r in host] == [d for _, d in py],
                 "max_score_rel_diff_vs_python": float(np.max(np.abs(host_scores - py_scores)
                                                              / np.maximum(np.abs(py_scores), 1e-12)))},
        "alarm": {**alarm_summary(config, scorer, [r.label for r in chosen], py_alarm, lengths),
                  "python_records": [list(a) for a in py_alarm],
                  "host_equal_python": [r.alarm for r in host] == py_alarm,
                  "record": "(alarm onsets, first alarm window or -1, windows in alarm, FNV-1a digest of the "
                            "per-window alarm states)"},
        "score_domain": meta["device"]["score_domain"], "score_unit": meta["device"]["score_unit"],
        "targets": TARGETS,
        "instruction_counting": ("QEMU -icount shift=0 (1 guest instruction = 1 ns virtual time); SysTick on "
                                 "the 25 MHz processor clock read around every runtime call (front end, model, "
                                 "score, decision), ticks converted with a calibration loop of known "
                                 "instruction count run in the same QEMU session"),
    }
    tools = arm_tools()
    if tools is None:
        result.update({"elf": None, "flash_bytes": None, "ram_bytes": None,
                       "instructions_per_audio_second": None,
                       "decisions_match_python": result["host"]["decisions_match_python"],
                       "skipped": f"Cortex-M4 build and QEMU run skipped: {', '.join(missing_arm_tools())} not "
                                  "installed (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi "
                                  "qemu-system-arm, or `make toolchain`)"})
    else:
        elf = build_m4(c_dir, build / "m4")
        sizes = elf_sizes(elf)
        run = run_qemu(elf, files, kind=kind, bench=True)
        m4_decisions = [r.decision for r in run.clips]
        instructions = sum(r.ticks for r in run.clips) * run.instructions_per_tick
        result.update({
            "elf": str(elf.relative_to(out_dir)),
            "flash_bytes": sizes["text"] + sizes["data"],
            "ram_bytes": sizes["data"] + sizes["bss"] + run.stack_bytes,
            "ram": {"data": sizes["data"], "bss": sizes["bss"], "stack_high_water": run.stack_bytes,
                    "stack_reserved": sizes["stack_reserved"]},
            "instructions_per_audio_second": instructions / seconds,
            "instructions_per_tick": run.instructions_per_tick,
            "instructions_per_window_model_and_score": run.bench_instructions_per_window,
            "instructions_per_frame_front_end": run.bench_instructions_per_frame,
            "instructions_per_window_whole_chain": instructions / max(1, sum(r.n_windows for r in run.clips)),
            "cortex_m4": {"decisions": m4_decisions, "scores": [r.score() for r in run.clips],
                          "raw_sums_equal_host": [r.raw_sum for r in run.clips] == [r.raw_sum for r in host],
                          "alarms_equal_python": [r.alarm for r in run.clips] == py_alarm},
            "decisions_match_python": (m4_decisions == [d for _, d in py]
                                       and result["host"]["decisions_match_python"]),
        })
        result["meets_targets"] = {k: result[k] <= v for k, v in TARGETS.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / FIRMWARE_JSON, json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result

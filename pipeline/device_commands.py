"""CLI commands `export` and `firmware` (plain typer-annotated functions; cli.py registers them).

TensorFlow is imported only inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def export(
    model: Path = typer.Option(..., "--model", help="Model folder written by `train` (bundle.json)."),
    out: Path = typer.Option(..., "--out", help="Folder for the .tflite files, C sources and export.json."),
    data: Optional[Path] = typer.Option(None, "--data", help="Evaluation dataset (its test split); default: "
                                                             "the dataset recorded in the bundle."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an --out folder that holds something "
                                                              "else (a previous result is always replaced)."),
    budget: str = typer.Option("flash=64KB,ram=32KB,instr=8M,auc_loss=0.01", "--budget",
                               help="Device budget: flash and RAM (B, KB, MB), Cortex-M4 instructions per audio "
                                    "second (k, M, G) and optionally the AUC int8 may lose (auc_loss); a model "
                                    "over it is refused. 'none' lifts it."),
    alarm: str = typer.Option("7/10", "--alarm", help="Streaming alarm N/M: on while at least N of the last M "
                                                      "windows score above the threshold (M <= 32)."),
) -> None:
    """Export a trained detector: int8 TFLite (checked in LiteRT and TFLM), C sources, export.json."""
    from pipeline.export import export_bundle
    from pipeline.export_budget import parse_export_budget
    from pipeline.streaming import AlarmRule

    info = export_bundle(model_dir=model, out_dir=out, data=data, overwrite=overwrite,
                         budget=parse_export_budget(budget), alarm=AlarmRule.parse(alarm))
    ev = info["evaluation"]
    lines = [f"exported {info['detector']} to {out}"]
    for name, m in info["models"].items():
        if "bytes" in m:
            lines.append(f"  {m['file']}: {m['bytes']} bytes, operators {', '.join(m['operators'])}"
                         + (f", TFLM arena {m['tflm_arena_bytes']} bytes" if "tflm_arena_bytes" in m else ""))
        else:
            lines.append(f"  {name}: {m['format']}")

    def fmt(v):
        return "n/a" if v is None else f"{v:.4f}"

    lines.append(f"  AUC float {fmt(ev['float'].get('auc'))} int8 {fmt(ev['int8'].get('auc'))}; "
                 f"pAUC float {fmt(ev['float'].get('pauc'))} int8 {fmt(ev['int8'].get('pauc'))} "
                 f"({ev['clips']} clips)")
    lines.append(f"  threshold (int8 score domain): {info['threshold_int8']}")
    a = info["device"]["alarm"]
    lines.append(f"  streaming alarm: {a['n']} of the last {a['m']} windows over the threshold "
                 f"(earliest {a['min_latency_s']:.3f} s after a fault appears)")
    cost = info["device_cost_estimate"]
    lines.append(f"  Cortex-M4 estimate: flash {cost['flash_bytes']:,} B, RAM {cost['ram_bytes']:,} B, "
                 f"{cost['instructions_per_second'] / 1e6:.2f} M instructions per audio second")
    m = info["budget_margins"]
    if m is None:
        lines.append("  no device budget")
    else:
        lines.append(f"  within budget, margins: flash {m['flash_bytes']:,} B, RAM {m['ram_bytes']:,} B, "
                     f"{m['instructions_per_second'] / 1e6:.2f} M instructions per audio second, AUC loss "
                     + ("not checked" if m["auc_loss"] is None else f"{m['auc_loss']:.4f}"))
    typer.echo("\n".join(lines))


def firmware(
    export_dir: Path = typer.Option(..., "--export", help="Folder written by `export`."),
    clips: Path = typer.Option(..., "--clips", help="Dataset folder or audio file to run the device on."),
    out: Path = typer.Option(..., "--out", help="Folder for builds and firmware.json."),
    max_clips: int = typer.Option(8, "--max-clips", help="Most clips to run (test split, anomalies and normals)."),
) -> None:
    """Build the C runtime for host and Cortex-M4 (QEMU), run both on clips and compare with Python."""
    from datasets.limits import check_int
    from datasets.output_folder import replaced_folder
    from pipeline.firmware_build import FIRMWARE_JSON, run_firmware

    check_int("--max-clips", max_clips, (1, 10_000))
    # Built beside the folder and swapped in whole: a failure or a kill leaves the previous result or nothing.
    with replaced_folder(out, marker=FIRMWARE_JSON) as staging:
        r = run_firmware(export_dir=export_dir, clips=clips, out_dir=staging, max_clips=max_clips)
    lines = [f"host: decisions match Python: {r['host']['decisions_match_python']} "
             f"({len(r['clips'])} clips, max score difference {r['host']['max_score_rel_diff_vs_python']:.2e})"]
    if r.get("elf"):
        lines.append(f"Cortex-M4: {out / r['elf']}")
        lines.append(f"  flash {r['flash_bytes']} B, RAM {r['ram_bytes']} B, "
                     f"{r['instructions_per_audio_second'] / 1e6:.2f} M instructions per audio second")
        lines.append(f"  decisions match Python: {r['decisions_match_python']}; streaming alarms match Python: "
                     f"{r['cortex_m4']['alarms_equal_python']}")
    else:
        lines.append(r["skipped"])
    a = r["alarm"]
    lines.append(f"streaming alarm ({a['n']} of the last {a['m']} windows; host equals Python: "
                 f"{a['host_equal_python']}): {a['fault_clips_alarmed']} of {a['fault_clips']} fault clips alarmed"
                 + ("" if a["median_latency_s"] is None else f", median latency {a['median_latency_s']:.2f} s")
                 + (f"; {a['false_alarms']} false alarms in {a['normal_audio_s']:.0f} s of normal audio ("
                    f"{a['false_alarms_per_hour']:.0f} per hour)" if a["false_alarms_per_hour"] is not None else ""))
    lines.append(f"wrote {out / 'firmware.json'}")
    typer.echo("\n".join(lines))

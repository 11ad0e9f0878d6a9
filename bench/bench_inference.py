"""Per-window int8 inference: C runtime (host, and Cortex-M4 instructions under QEMU) vs LiteRT and TFLM.

Usage:  python bench/bench_inference.py [--export EXPORT_DIR] [--windows N]

Without --export, trains a TinyML autoencoder on the real DCASE 2023 samples in
../shared/data and exports it into a temporary folder first. Prints figures; no
pass/fail.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))


def _make_export(tmp: Path) -> Path:
    from pipeline.export import export_bundle
    from pipeline.training import TrainConfig, train

    data = PROJECT.parent / "shared" / "data" / "dcase2023" / "dev_data" / "raw"
    config = TrainConfig(detector="autoencoder", features="tinyml", seed=0, target_fpr=0.1,
                         detector_params={"tinyml": True, "epochs": 10})
    train(config, data=data, out_dir=tmp / "model")
    export_bundle(model_dir=tmp / "model", out_dir=tmp / "export")
    return tmp / "export"


def _per_call(fn, n: int) -> float:
    fn()  # warm up
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, default=None)
    parser.add_argument("--windows", type=int, default=2000)
    args = parser.parse_args()

    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from pipeline import firmware_build as B
    from pipeline.device_scorer import load_scorer
    from pipeline.export_files import read_export_json
    from pipeline.interpreters import tflm_interpreter

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        export_dir = args.export or _make_export(tmp)
        meta = read_export_json(export_dir)
        if meta["detector"] != "autoencoder":
            raise SystemExit("bench_inference measures the int8 autoencoder: export one")
        scorer = load_scorer(export_dir)
        dim = scorer.gain.size
        q = np.random.default_rng(0).integers(-128, 128, size=(1, dim)).astype(np.int8)
        n = args.windows
        rows = []

        exe = B.build_host(export_dir / "c", tmp / "host")
        out = B._run([exe, "bench", str(n * 50)]).stdout
        rows.append(("C runtime, host (-O2), model + score", float(out.split()[0])))

        for name, rtype in (("LiteRT, builtin ref kernels", OpResolverType.BUILTIN_REF),
                            ("LiteRT, default (XNNPACK)", OpResolverType.AUTO)):
            lite = Interpreter(model_content=scorer.model_bytes, experimental_op_resolver_type=rtype)
            lite.allocate_tensors()
            i_idx, o_idx = lite.get_input_details()[0]["index"], lite.get_output_details()[0]["index"]

            def call_lite(lite=lite, i_idx=i_idx, o_idx=o_idx):
                lite.set_tensor(i_idx, q)
                lite.invoke()
                return lite.get_tensor(o_idx)

            rows.append((name, _per_call(call_lite, n)))

        tflm = tflm_interpreter(scorer.model_bytes)

        def call_tflm():
            tflm.set_input(q, 0)
            tflm.invoke()
            return tflm.get_output(0)

        rows.append(("TFLM Python interpreter", _per_call(call_tflm, n)))

        print(f"int8 autoencoder, {dim} inputs, layers "
              f"{' -> '.join(str(layer.weights.shape[1]) for layer in scorer.graph.layers)} -> "
              f"{scorer.graph.layers[-1].weights.shape[0]}; "
              f"{sum(layer.weights.size for layer in scorer.graph.layers)} MACs per window")
        print(f"{'engine':45s} {'us/window':>10s}")
        for name, sec in rows:
            print(f"{name:45s} {sec * 1e6:10.2f}")

        if B.arm_tools() is None:
            print(f"Cortex-M4: skipped ({', '.join(B.missing_arm_tools())} missing)")
            return
        elf = B.build_m4(export_dir / "c", tmp / "m4")
        clip = B.write_clip(np.random.default_rng(1).normal(0, 0.05, 16000).astype(np.float32), tmp / "noise.f32")
        run = B.run_qemu(elf, [clip], kind="autoencoder", bench=True)
        whole = run.clips[0].ticks * run.instructions_per_tick
        per_window = run.bench_instructions_per_window
        print(f"Cortex-M4 (QEMU mps2-an386, -icount shift=0): model + score {per_window:,.0f} instructions/window "
              f"(~{per_window / 120e6 * 1e3:.3f} ms at 120 MHz if 1 instruction/cycle); target 30,000")
        cfg = meta["feature_config"]
        print(f"Cortex-M4 front end: {run.bench_instructions_per_frame:,.0f} instructions per frame "
              f"({cfg['kind']}, n_fft {cfg['n_fft']}, {cfg['n_mels']} bands)")
        print(f"Cortex-M4 whole chain (features + model + decision): {whole:,.0f} instructions per audio second "
              f"({run.clips[0].n_windows} windows, 1 s of noise); targets 2,500,000 (default chain), 8,000,000 "
              "(TinyML budget)")


if __name__ == "__main__":
    main()

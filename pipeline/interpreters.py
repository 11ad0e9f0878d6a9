"""Interpreter checks: the int8 model in TFLM and LiteRT, TFLM arena sizing, comparison with the C mirror."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from errors import FaultsynthError
from pipeline.int8_graph import run_dense_int8
from pipeline.tf_import import captured_stderr

if TYPE_CHECKING:
    from pipeline.device_scorer import AutoencoderScorer


def tflm_interpreter(model_bytes: bytes, *, arena_bytes: int | None = None):
    """A tflite-micro Python interpreter (reference kernels) for ``model_bytes``."""
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_bytes or max(64 * 1024,
                                                                                     4 * len(model_bytes)))


def tflm_arena_bytes(model_bytes: bytes) -> dict[str, int]:
    """Arena the TFLM interpreter needs for the model (host build, 64-bit).

    Read from the RecordingMicroAllocator report (``print_allocations``) after
    one invoke (``total``, ``head``, ``tail``), and ``required``: the smallest
    arena with which the interpreter prepares and runs (binary search; the
    report leaves out temporary allocations). Host (64-bit) figures; on a
    32-bit MCU the structures are smaller, so these are upper bounds.

    Returns
    -------
    dict with ``total``, ``head``, ``tail``, ``required`` (bytes)
    """
    interp = tflm_interpreter(model_bytes)
    details = interp.get_input_details(0)
    interp.set_input(np.zeros(details["shape"], dtype=details["dtype"]), 0)
    interp.invoke()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "alloc.txt"
        with captured_stderr(log):
            interp.print_allocations()
        text = log.read_text(errors="replace")
    found = {}
    for key in ("total", "head", "tail"):
        m = re.search(rf"Arena allocation {key} (\d+) bytes", text)
        if m is None:
            raise FaultsynthError(f"could not read the TFLM arena {key} from the allocator report: {text[:200]!r}")
        found[key] = int(m.group(1))
    found["required"] = _smallest_arena(model_bytes, start=found["total"])
    return found


_PROBE = """
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
interp = runtime.Interpreter.from_bytes(data, arena_size=int(sys.argv[2]))
details = interp.get_input_details(0)
interp.set_input(np.zeros(details["shape"], dtype=details["dtype"]), 0)
interp.invoke()
"""


def _arena_works(model_path: Path, arena: int) -> bool:
    """Whether TFLM prepares and invokes the model with ``arena`` bytes (own process:
    a failed allocation can leave the interpreter library in a state that crashes later)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _PROBE, str(model_path), str(int(arena))],
                          capture_output=True, timeout=120)
    return proc.returncode == 0


def _smallest_arena(model_bytes: bytes, *, start: int) -> int:
    """Smallest arena (16-byte steps) with which TFLM prepares and invokes the model.

    The allocator report leaves out the temporary memory used while preparing
    operators, so the report's total alone can be too small.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model_bytes)
        # Bracket the answer: lo fails, hi works (probes run in their own process, so crashes are harmless).
        if _arena_works(path, start):
            lo, hi = start // 2, start
            while lo > 16 and _arena_works(path, lo):
                lo, hi = lo // 2, lo
        else:
            lo, hi = start, start + 1024
            while not _arena_works(path, hi):
                lo, hi = hi, hi * 2
                if hi > 64 * 1024 * 1024:
                    raise FaultsynthError("TFLM could not run the model with any arena up to 64 MB")
        while hi - lo > 16:
            mid = (lo + hi) // 2 // 16 * 16
            if mid <= lo:
                break
            lo, hi = (lo, mid) if _arena_works(path, mid) else (mid, hi)
    return hi


def tflm_run(model_bytes: bytes, q: np.ndarray, *, interpreter=None) -> np.ndarray:
    """Run int8 vectors (n, dim) one at a time through TFLM; returns (n, out_dim) int8."""
    interp = interpreter or tflm_interpreter(model_bytes)
    out = []
    for row in np.asarray(q, dtype=np.int8):
        interp.set_input(row[None, :], 0)
        interp.invoke()
        out.append(np.array(interp.get_output(0)).reshape(-1))
    return np.stack(out).astype(np.int8) if out else np.zeros((0, 0), np.int8)


def litert_run(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    """Run vectors (n, dim) one at a time through LiteRT (reference op resolver, no delegates)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=model_bytes,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
    rows = []
    for row in np.asarray(x, dtype=inp["dtype"]):
        interp.set_tensor(inp["index"], row[None, :])
        interp.invoke()
        rows.append(interp.get_tensor(outp["index"]).reshape(-1).copy())
    return np.stack(rows)


def compare_interpreters(scorer: AutoencoderScorer, clips: Sequence[np.ndarray]) -> dict:
    """Run every window through TFLM, LiteRT and the integer mirrors; raise unless TFLM == C mirror.

    LiteRT's Python package computes requantisation with single rounding and
    TFLM with double rounding, so they can differ by one step; the figures say
    how often, and whether clip decisions change.
    """
    q = [scorer.quantize(f) for f in clips]
    q_all = np.concatenate(q)
    y_tflm = tflm_run(scorer.model_bytes, q_all)
    y_mirror = run_dense_int8(scorer.graph, q_all)
    if not np.array_equal(y_tflm, y_mirror):
        raise FaultsynthError("the C runtime's integer arithmetic disagrees with the TFLM interpreter on this "
                              "model: export aborted")
    y_lite = litert_run(scorer.model_bytes, q_all)
    y_single = run_dense_int8(scorer.graph, q_all, single_rounding=True)
    bounds = np.cumsum([0] + [len(x) for x in q])
    same = 0
    for i, f in enumerate(clips):
        a = scorer.clip_result(scorer.window_scores(f, outputs=y_tflm[bounds[i]:bounds[i + 1]]))[1]
        b = scorer.clip_result(scorer.window_scores(f, outputs=y_lite[bounds[i]:bounds[i + 1]]))[1]
        same += int(a == b)
    return {"windows": int(q_all.shape[0]), "tflm_equals_c_runtime": True,
            "litert_equals_c_runtime_single_rounding": bool(np.array_equal(y_lite, y_single)),
            "litert_tflm_identical_outputs_fraction": float(np.mean(y_lite == y_tflm)),
            "litert_tflm_max_abs_diff": int(np.max(np.abs(y_lite.astype(np.int16) - y_tflm.astype(np.int16)))),
            "litert_tflm_clip_decisions_agree_fraction": same / max(1, len(clips)),
            "note": "TFLM (reference kernels) requantises with double rounding, the LiteRT Python package with "
                    "TFLITE_SINGLE_ROUNDING; the C runtime follows TFLM (-DFS_SINGLE_ROUNDING=1 follows LiteRT)"}


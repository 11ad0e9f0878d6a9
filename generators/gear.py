"""Single gear stage: tooth-mesh harmonics and gear faults.

A pinion of ``pinion_teeth`` teeth on the driving shaft (rate f_r) meshes with a
gear of ``gear_teeth`` teeth (output rate f_r * z_p / z_g). The mesh frequency
is ``mesh_hz = z_p * f_r``. The healthy mesh vibration has three mesh harmonics,
weakly amplitude-modulated at both shaft rates (tooth-to-tooth variation).

- ``tooth_chip``: once per pinion revolution the chipped tooth meshes: a short
  amplitude dip and phase jump (many sidebands at f_r around every mesh
  harmonic) and an impact ringing the structure.
- ``gear_wear``: tooth profile wear raises the mesh harmonics (the 2nd and 3rd most).
- ``gear_eccentricity``: an eccentric pinion modulates the mesh in amplitude and
  phase once per revolution (first-order sidebands at mesh_hz +/- f_r).
"""

from __future__ import annotations

from typing import Any, Mapping, MutableMapping

import numpy as np
from scipy.special import jv

from generators.base import FaultSpec
from generators.parameters import FaultParameter, Fixed, Parameter
from generators.vibration_dsp import (MIN_TABLE_SIZE, ShaftMotion, cosine, event_revs, harmonic_sum,
                                      harmonic_table, impulses, ring, table_size, tone)

MESH_HARMONICS = 3

FAULTS: dict[str, FaultSpec] = {
    "tooth_chip": FaultSpec(
        "tooth_chip", "chipped pinion tooth: once-per-revolution impulsive AM/PM of the mesh and an impact",
        (FaultParameter("chip_am_depth", 0.9, "", "fractional mesh-amplitude dip while the chipped tooth meshes"),
         FaultParameter("chip_pm_rad", 1.0, "rad", "mesh phase jump (times the harmonic number)"),
         FaultParameter("chip_impact_g", 0.5, "g", "peak impact once per pinion revolution", speed_scaled=True))),
    "gear_wear": FaultSpec(
        "gear_wear", "distributed tooth wear: mesh harmonics rise, the 2nd and 3rd most",
        (FaultParameter("wear_mesh_gain", 2, "", "mesh harmonic h grows by a factor 1 + gain*(0.3, 1, 1)[h-1]"),)),
    "gear_eccentricity": FaultSpec(
        "gear_eccentricity", "eccentric pinion: mesh amplitude and phase modulated once per revolution",
        (FaultParameter("eccentricity_am_depth", 0.6, "", "AM depth of the mesh at the pinion rate"),
         FaultParameter("eccentricity_pm_rad", 0.3, "rad", "PM of the mesh at the pinion rate"))),
}

#: Healthy gear-stage parameters, in drawing order.
DECLARATIONS: tuple[Parameter, ...] = (
    Parameter("pinion_teeth", "teeth on the driving pinion", low=15, high=40, integer=True),
    Parameter("gear_teeth", "teeth on the driven gear", low=30, high=90, integer=True),
    Parameter("mesh_g", "healthy 1st mesh harmonic, peak", "g", low=0.02, high=0.2, log=True),
    Parameter("mesh_harmonic_decay", "healthy mesh harmonic h+1 relative to h", low=0.3, high=0.7),
    Parameter("mesh_am_depth", "healthy AM depth of the mesh at each shaft rate", low=0.02, high=0.08),
    Parameter("gear_phase_rad", "phases of mesh harmonics 1..3, pinion AM, gear AM, chip/eccentricity angle", "rad",
              count=MESH_HARMONICS + 3, level="recording"),
    Parameter("chip_width_teeth", "duration of the tooth-chip disturbance, in tooth-mesh periods", low=0.5,
              high=1.5, faults=("tooth_chip",)),
)


def derive(params: MutableMapping[str, Any], *, fixed: Fixed, fault: str, shaft_hz: float) -> None:
    """Add the mesh frequency and the output shaft rate (Hz) to ``params``."""
    del fixed, fault
    z_p, z_g = int(params["pinion_teeth"]), int(params["gear_teeth"])
    params.update(mesh_hz=z_p * shaft_hz, output_shaft_hz=shaft_hz * z_p / max(z_g, 1))


def characteristic_frequencies(params: Mapping[str, Any]) -> dict[str, float]:
    """Gear frequencies (Hz) that must lie below Nyquist."""
    return {"mesh_hz": float(params["mesh_hz"])}


def render(params: Mapping[str, Any], *, motion: ShaftMotion, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    """Healthy mesh vibration and the gear fault component (g).

    Returns
    -------
    machine : ndarray, shape (motion.n,), float32, g
    fault : ndarray, shape (motion.n,), float32 or float64, g; None for no gear fault
    """
    fs = motion.sample_rate
    z_p, z_g = int(params["pinion_teeth"]), int(params["gear_teeth"])
    phases = params["gear_phase_rad"]
    am = float(params["mesh_am_depth"])
    # Tooth-to-tooth variation: weak AM at the pinion and gear rates, 1 + am cos(angle + phase) for each,
    # in float32 from the angles wrapped to one revolution of each shaft.
    envelope = cosine(motion.cycles(1.0), am, phases[-3], out=motion.scratch(np.float32))
    envelope += cosine(motion.cycles(z_g / z_p), am, phases[-2])
    envelope += np.float32(1)
    orders = [h for h in range(1, MESH_HARMONICS + 1) if h * float(params["mesh_hz"]) < fs / 2]
    amplitude = {h: float(params["mesh_g"]) * float(params["mesh_harmonic_decay"]) ** (h - 1)
                 * np.exp(1j * phases[h - 1]) for h in orders}
    # The healthy mesh (and its wear) is periodic in the tooth angle: a table of one tooth period.
    tooth = motion.angle(1 / z_p, MIN_TABLE_SIZE)
    machine = tooth.lookup(harmonic_table(amplitude, MIN_TABLE_SIZE))
    machine *= envelope
    name = params.get("fault", "none")
    if name == "gear_wear":
        weights = (0.3, 1.0, 1.0)
        gain = float(params["wear_mesh_gain"])
        fault = tooth.lookup(harmonic_table({h: gain * weights[h - 1] * a for h, a in amplitude.items()},
                                            MIN_TABLE_SIZE))
        fault *= envelope
    elif name in ("gear_eccentricity", "tooth_chip"):
        # Sidebands at the shaft rate around the mesh harmonics: tables of one revolution, holding
        # harmonics up to the third mesh harmonic's (orders h*z_p) and its sidebands.
        size = table_size(MESH_HARMONICS * z_p + z_p // 2)
        angle = motion.angle(1.0, size)
        if name == "gear_eccentricity":
            fault = angle.lookup(harmonic_table(_eccentricity_orders(params, amplitude, z_p), size))
            fault *= envelope
        else:
            chip = phases[-1] / (2 * np.pi)
            carrier = angle.lookup(_chip_table(params, amplitude, z_p, chip, size))
            carrier *= envelope
            positions = event_revs(motion.total_revs, events_per_rev=1.0, slip_pct=0.0, offset=chip, rng=rng)
            fault = ring(impulses(motion, positions, float(params["chip_impact_g"])), params, fs)
            fault += carrier
    else:
        fault = None
    return machine, fault


def _eccentricity_orders(params: Mapping[str, Any], amplitude: Mapping[int, complex], z_p: int
                         ) -> dict[int, complex]:
    """Shaft-order spectrum of the eccentric minus the healthy carrier (before the healthy envelope).

    The eccentric carrier is ``(1 + a cos u) sum_h Re(A_h exp(1j*h*(mesh angle + b cos u)))`` with
    ``u`` the pinion angle plus the eccentricity phase; the phase modulation expands by
    Jacobi-Anger, ``exp(1j*x*cos u) = sum_m 1j**m J_m(x) exp(1j*m*u)``.
    """
    phase = float(params["gear_phase_rad"][-1])
    depth, beta = float(params["eccentricity_am_depth"]), float(params["eccentricity_pm_rad"])
    reaches = {h: int(np.ceil(abs(h * beta))) + 12 for h in amplitude}  # J_m(h*beta) is negligible beyond
    low = min((h * z_p - reach - 1 for h, reach in reaches.items()), default=0)
    high = max((h * z_p + reach + 1 for h, reach in reaches.items()), default=0)
    spectrum = np.zeros(high - low + 1, complex)  # orders low..high
    for h, a in amplitude.items():
        m = np.arange(-reaches[h], reaches[h] + 1)
        c = a * np.array([1, 1j, -1, -1j])[m % 4] * jv(m, h * beta) * np.exp(1j * m * phase)
        at = h * z_p + m - low
        spectrum[at] += c  # distinct orders: no repeated index within one harmonic
        # The AM: a cos(u) shifts each component half up and half down by one order.
        spectrum[at + 1] += 0.5 * depth * np.exp(1j * phase) * c
        spectrum[at - 1] += 0.5 * depth * np.exp(-1j * phase) * c
        spectrum[h * z_p - low] -= a
    return {int(k) + low: complex(spectrum[k]) for k in np.flatnonzero(spectrum)}


def _chip_table(params: Mapping[str, Any], amplitude: Mapping[int, complex], z_p: int, chip: float,
                size: int) -> np.ndarray:
    """One revolution of the chipped minus the healthy carrier (before the healthy envelope).

    While the chipped tooth meshes (a Gaussian window in shaft angle around ``chip`` revolutions),
    the mesh dips in amplitude and jumps in phase.
    """
    sigma = float(params["chip_width_teeth"]) / z_p / 2  # revolutions
    # Table points within 6 sigma of the chip (the window is negligible elsewhere), unwrapped.
    points = np.arange(np.ceil((chip - 6 * sigma) * size), (chip + 6 * sigma) * size)
    near = points.astype(np.int64) & (size - 1)
    d = points / size - chip
    window = np.exp(-0.5 * (d / sigma) ** 2)
    healthy = tone(z_p, points.size, size)
    healthy *= np.exp(2j * np.pi * z_p * points[0] / size) if points.size else 1
    jump = float(params["chip_pm_rad"]) * window
    faulty = healthy * (np.cos(jump) + 1j * np.sin(jump))
    table = np.zeros(size)
    table[near] = ((1 - float(params["chip_am_depth"]) * window) * harmonic_sum(faulty, amplitude)
                   - harmonic_sum(healthy, amplitude))
    return table

"""Rotating shaft: running-speed harmonics and shaft faults.

Amplitudes of shaft-order components are set as peak *velocities* (mm/s), the
quantity ISO 10816 judges, and converted to acceleration (g) at each order's
frequency. Fault mappings (severity s in [0, 1]):

- ``imbalance``: 1x grows (centrifugal force of an unbalanced mass).
- ``misalignment``: 2x dominant, 3x and a little 1x (coupling forces twice per revolution).
- ``looseness``: many harmonics, half-order sub-harmonics, and one-sided truncation
  of the motion (the loose part hits a stop).
- ``bent_shaft``: 1x with a strong 2x.
- ``rub``: once-per-revolution impacts that ring the structure, plus 1/2-order
  sub-harmonics (the rotor touches the stator every other turn).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from generators.base import FaultSpec
from generators.parameters import FaultParameter, Parameter
from generators.vibration_dsp import ShaftMotion, event_revs, impulses, ring, velocity_to_g

FAULTS: dict[str, FaultSpec] = {
    "imbalance": FaultSpec(
        "imbalance", "unbalanced rotor mass: a once-per-revolution centrifugal force (1x)",
        (FaultParameter("unbalance_mm_s", 10, "mm/s",
                        "peak velocity added at 1x, in phase with the residual unbalance"),)),
    "misalignment": FaultSpec(
        "misalignment", "shaft/coupling misalignment: 2x dominant with 3x and some 1x",
        (FaultParameter("misalignment_mm_s", 8, "mm/s", "peak velocity at 2x; 0.5x that at 3x, 0.3x that at 1x"),)),
    "looseness": FaultSpec(
        "looseness", "mechanical looseness: harmonics up to 10x, half-orders and one-sided truncation",
        (FaultParameter("looseness_mm_s", 6, "mm/s",
                        "peak velocity spread over 1x..10x (1/k decay) and 0.5x..9.5x (half as strong)"),
         FaultParameter("looseness_clip_fraction", 0.5, "", "fraction of the positive peak shaved off the motion"))),
    "bent_shaft": FaultSpec(
        "bent_shaft", "bent shaft: strong 1x (at the bow's own phase) with a 2x",
        (FaultParameter("bend_mm_s", 8, "mm/s", "peak velocity at 1x; 0.6x that at 2x"),)),
    "rub": FaultSpec(
        "rub", "rotor-stator rub: once-per-revolution impacts ringing the structure, 1/2-order sub-harmonics",
        (FaultParameter("rub_impact_g", 1.5, "g", "peak impact at each contact, one per revolution",
                        speed_scaled=True),
         FaultParameter("rub_subharmonic_mm_s", 3, "mm/s", "peak velocity at 0.5x, half that at 1.5x"))),
}

#: Healthy-shaft parameters, in drawing order.
DECLARATIONS: tuple[Parameter, ...] = (
    Parameter("speed_fluctuation_pct", "peak slow speed fluctuation, % of the mean speed", "%", low=0.05, high=0.4),
    Parameter("speed_fluctuation_hz", "rate of the speed fluctuation", "Hz", low=0.1, high=2.0, log=True),
    Parameter("speed_fluctuation_phase_rad", "phases of the two speed-fluctuation components", "rad", count=2,
              level="recording"),
    Parameter("residual_1x_mm_s", "residual-unbalance 1x peak velocity of the healthy machine", "mm/s",
              low=0.3, high=1.2),
    Parameter("harmonic_decay", "healthy 2x..4x relative to the order below", low=0.15, high=0.5),
    Parameter("shaft_phase_rad", "phases of the healthy 1x..4x", "rad", count=4, level="recording"),
    Parameter("fault_phase_rad", "phase of the shaft fault's components (rub contact angle)", "rad", count=1,
              level="recording"),
    Parameter("rub_slip_pct", "timing jitter of rub impacts, % of a revolution", "%", low=1.0, high=5.0,
              faults=("rub",)),
)


def _orders_sum(motion: ShaftMotion, orders_mm_s: Mapping[float, complex]) -> np.ndarray:
    """Acceleration (g, float32) of shaft-order components given as {order: complex peak velocity mm/s}.

    Orders at or above Nyquist are dropped; orders are multiples of 1/2.
    """
    f = motion.shaft_hz
    return motion.order_sum({o: velocity_to_g(1.0, o * f) * v for o, v in orders_mm_s.items()
                             if v != 0 and o * f < motion.sample_rate / 2})


def render(params: Mapping[str, Any], *, motion: ShaftMotion, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    """Healthy shaft vibration and the shaft fault component (g).

    Parameters
    ----------
    params : mapping
        The clip's parameters (including ``fault``, ``severity``, ``shaft_hz`` and the
        structural resonance parameters).
    motion : ShaftMotion
    rng : numpy.random.Generator
        Drives rub impact jitter.

    Returns
    -------
    machine : ndarray, shape (motion.n,), float32, g
    fault : ndarray, shape (motion.n,), float32 or float64, g; None for no shaft fault
    """
    phases = params["shaft_phase_rad"]
    decay = float(params["harmonic_decay"])
    v1 = float(params["residual_1x_mm_s"])
    healthy = {k: v1 * decay ** (k - 1) * np.exp(1j * phases[k - 1]) for k in range(1, 5)}
    machine = _orders_sum(motion, healthy)

    fault_name = params.get("fault", "none")
    phi = np.exp(1j * float(params["fault_phase_rad"]))
    orders: dict[float, complex] = {}
    impacts = None
    if fault_name == "imbalance":
        # In phase with the residual unbalance: the 1x amplitude grows monotonically.
        orders[1.0] = float(params["unbalance_mm_s"]) * np.exp(1j * phases[0])
    elif fault_name == "misalignment":
        v = float(params["misalignment_mm_s"])
        orders.update({1.0: 0.3 * v * phi, 2.0: v * phi ** 2, 3.0: 0.5 * v * phi ** 3})
    elif fault_name == "bent_shaft":
        v = float(params["bend_mm_s"])
        orders.update({1.0: v * phi, 2.0: 0.6 * v * phi ** 2})
    elif fault_name == "looseness":
        v = float(params["looseness_mm_s"])
        weights = {k / 2: (1 / (k / 2)) * (1.0 if k % 2 == 0 else 0.5) for k in range(1, 21)}
        norm = np.sqrt(sum(w * w for w in weights.values()))
        orders.update({o: v * w / norm * phi ** (2 * o) for o, w in weights.items()})
    elif fault_name == "rub":
        v = float(params["rub_subharmonic_mm_s"])
        orders.update({0.5: v * phi, 1.5: 0.5 * v * phi ** 3})
        positions = event_revs(motion.total_revs, events_per_rev=1.0, slip_pct=float(params["rub_slip_pct"]),
                               offset=float(params["fault_phase_rad"]) / (2 * np.pi), rng=rng)
        impacts = ring(impulses(motion, positions, float(params["rub_impact_g"])), params, motion.sample_rate)
    fault = _orders_sum(motion, orders) if orders else None
    if impacts is not None:
        fault = impacts if fault is None else np.add(impacts, fault, out=impacts)
    if fault_name == "looseness":
        # The loose part hits a stop on one side: truncate the positive peaks of the motion (in float64, so
        # that machine + fault is flat at the stop to the last bit).
        total = np.add(machine, fault, dtype=np.float64)
        limit = (1 - float(params["looseness_clip_fraction"])) * total.max()
        np.minimum(total, limit, out=total)
        fault = np.subtract(total, machine, out=total)
    return machine, fault


"""Toy conveyor sound (ToyADMOS ``ToyConveyor``): a belt on pulleys driven by a small DC
motor through a gear train.

Normal sound: motor tone at ``motor_rpm / 60`` and the pinion mesh
``f_mesh = pinion_teeth * motor_rpm / 60``; belt rolling noise over the pulleys (low and mid
frequencies) rippled at the drive-pulley rate; a faint tick each time the belt seam passes a
pulley (``pulleys`` per belt cycle of ``belt_cycle_s``); motor brush noise.

Faults (severity s in [0, 1]; s = 0 renders the normal conveyor):

- ``excessive_tension``: over-tight belt: more friction, slower motor, louder rolling and mesh;
- ``attached_object``: an object stuck on the belt bumps once per belt cycle as it passes over
  the drive pulley (time-localised events);
- ``removed_pulley``: a missing idler: the belt sags and flaps (irregular low-frequency slaps)
  and flapping noise.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from generators.base import Event, FaultSpec
from generators.parameters import FaultParameter, Parameter
from generators.sound_dsp import (bandpass, crossings, cycles, db, harmonic_count, harmonics, highpass,
                                  impact_kernel, impacts, modulate, nested_poisson, resonance_boost,
                                  rfft_frequencies, shape, sine, slow_knots, smooth, tilt, white_spectrum)
from generators.sound_machine import AudioMachine, level_rms_parameter

#: Highest belt-slap rate (removed pulley at severity 1), per second.
MAX_SLAP_RATE_HZ = 25.0


class ToyConveyor(AudioMachine):
    """Toy belt conveyor (see module docstring)."""

    name = "toyconveyor"
    declarations = (
        Parameter('motor_rpm', 'motor speed', 'rpm', low=3000.0, high=9000.0, level="operating", spread=0.03),
        Parameter('pinion_teeth', 'motor pinion teeth', low=8, high=14, integer=True),
        Parameter('mesh_level_db', 'gear-mesh tone level re rolling noise', 'dB', low=-18.0, high=-4.0),
        Parameter('motor_tone_level_db', 'motor 1x tone level re rolling noise', 'dB', low=-35.0, high=-20.0),
        Parameter('brush_level_db', 'motor brush-noise level re rolling noise', 'dB', low=-25.0, high=-12.0),
        Parameter('belt_cycle_s', 'time for the belt to go round once', 's', low=1.0, high=2.5),
        Parameter('pulley_turns_per_cycle', 'drive-pulley revolutions per belt cycle', low=4.0, high=12.0),
        Parameter('pulleys', 'pulleys the belt runs over (drive pulley included)', low=2, high=5, integer=True),
        Parameter('rolling_corner_hz', 'upper corner of the belt rolling-noise spectrum', 'Hz', low=2000.0, high=4000.0, log=True),
        Parameter('rolling_slope_db_per_octave', 'rolling-noise slope below the upper corner', 'dB/octave', low=1.5, high=3.5),
        Parameter('frame_resonance_hz', 'conveyor frame resonance', 'Hz', low=220.0, high=450.0, log=True),
        Parameter('frame_resonance_gain_db', 'frame resonance boost of the rolling noise', 'dB', low=6.0, high=14.0),
        Parameter('seam_tick_level_db', 'belt-seam tick peak re rolling-noise RMS', 'dB', low=-10.0, high=3.0),
        Parameter('speed_jitter', 'relative slow fluctuation of the motor speed (std)', low=0.0005, high=0.005),
        Parameter('rolling_fluctuation', 'slow fluctuation of the rolling-noise level, neper (std)', low=0.15, high=0.4),
        Parameter('object_position', 'where along the belt an attached object sits (0..1)', low=0.0, high=1.0, level="recording"),
        Parameter('belt_span_hz', 'transverse natural frequency of a sagging belt span', 'Hz', low=15.0, high=60.0),
        level_rms_parameter(),
    )
    faults = {
        "excessive_tension": FaultSpec('excessive_tension', 'over-tight belt: more friction and load', (
            FaultParameter('speed_change_fraction', -0.1),
            FaultParameter('rolling_gain_db', 4, 'dB'),
            FaultParameter('mesh_gain_db', 3, 'dB'))),
        "attached_object": FaultSpec('attached_object', 'an object stuck to the belt bumps once per belt cycle at the drive pulley', (
            FaultParameter('bump_ratio', 4, '', 'bump peak re rolling-noise RMS'),), time_localised=True),
        "removed_pulley": FaultSpec('removed_pulley', 'a missing idler: the belt sags, flaps and slaps the frame', (
            FaultParameter('slap_rate_hz', MAX_SLAP_RATE_HZ, '', 'belt slaps per second (Poisson)'),
            FaultParameter('slap_ratio', 2, '', 'slap peak re rolling-noise RMS'),
            FaultParameter('flap_ratio', 0.5, '', 'flapping-noise RMS (band around 4 x belt_span_hz) re rolling-noise RMS'))),
    }

    def _characteristic_hz(self, params: Mapping[str, Any]) -> dict[str, float]:
        return {"gear-mesh frequency": params["pinion_teeth"] * params["motor_rpm"] / 60 * 1.02}

    def _synthesise(self, params: Mapping[str, Any], *, n_samples: int, sample_rate: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, list[Event]]:
        p, n, sr = params, n_samples, sample_rate
        duration_s = n / sr
        fault = str(p.get("fault", "none"))

        roll_spec = white_spectrum(rng, n)
        brush_spec = white_spectrum(rng, n)
        drift = slow_knots(rng, n, sr, bandwidth_hz=0.5)
        wobble_knots = slow_knots(rng, n, sr, bandwidth_hz=max(p["belt_span_hz"] / 4, 1.0))  # removed pulley only
        fluct = slow_knots(rng, n, sr, bandwidth_hz=2.0)
        phases = rng.uniform(0, 2 * np.pi, 8)  # 0: ripple, 1: motor, 2..7: mesh
        kernel_noise = rng.standard_normal(int(0.3 * sr) + 1)
        belt_start = rng.random()  # belt position at t = 0 (fraction of a cycle)
        fault_rng = np.random.default_rng(rng.integers(2**63))

        f = rfft_frequencies(n, sr)
        # broadband from ~200 Hz, gently falling, rolled off above rolling_corner_hz; frame resonance
        roll_mag = tilt(f, corner_hz=200.0, slope_db_per_octave=p["rolling_slope_db_per_octave"]) \
            * tilt(f, corner_hz=p["rolling_corner_hz"], slope_db_per_octave=12.0) \
            * highpass(f, cutoff_hz=220.0, order=4) \
            * resonance_boost(f, centre_hz=p["frame_resonance_hz"], q=2.0, gain_db=p["frame_resonance_gain_db"])
        roll_mag /= np.sqrt(np.mean(roll_mag**2))
        rolling = shape(roll_spec, roll_mag, n, overwrite=True)
        level = smooth(fluct, n, scale=p["rolling_fluctuation"], offset=-p["rolling_fluctuation"] ** 2)
        rolling *= np.exp(level, out=level)  # log-normal level
        brush_mag = tilt(f, corner_hz=2000.0, slope_db_per_octave=6.0) * highpass(f, cutoff_hz=300.0)
        brush_mag *= np.float32(db(p["brush_level_db"]) / np.sqrt(np.mean(brush_mag**2)))
        out = shape(brush_spec, brush_mag, n, overwrite=True)
        del roll_spec, brush_spec, roll_mag, brush_mag, level
        tick_kernel = impact_kernel(kernel_noise, sr, modes_hz=[2.0 * p["frame_resonance_hz"],
                                                              4.7 * p["frame_resonance_hz"]], decay_s=0.004)
        # seconds of running at nominal speed, the speed drift integrated: motor and belt turn with it
        run_s = cycles(smooth(drift, n, scale=p["speed_jitter"], offset=1.0), n, sr)
        normal, belt_cyc = self._sound(p, run_s, rolling, phases, belt_start, tick_kernel, faulty=False, n=n, sr=sr)
        out += normal
        if fault == "none":
            return out, None, []
        if fault == "excessive_tension":
            del belt_cyc
            faulty, _ = self._sound(p, run_s, rolling, phases, belt_start, tick_kernel, faulty=True, n=n, sr=sr)
            faulty -= normal
            return out, faulty, []

        events: list[Event] = []
        if fault == "attached_object":
            bumps = crossings(belt_cyc, offset=-p["object_position"])
            kernel = impact_kernel(kernel_noise[::-1], sr, modes_hz=[p["frame_resonance_hz"],
                                                                   2.4 * p["frame_resonance_hz"]],
                                   decay_s=0.02, burst_decay_s=0.002, modal_weight=1.0)
            part = impacts(n, bumps / sr, p["bump_ratio"], kernel, sr)
            events = [Event(onset_s=float(max(0.0, b / sr - 0.002)),
                            offset_s=float(min(duration_s, b / sr + kernel.size / sr)), fault=fault) for b in bumps]
        else:  # removed_pulley
            times, marks = nested_poisson(fault_rng, max_rate_hz=MAX_SLAP_RATE_HZ, duration_s=duration_s)
            amplitude = fault_rng.lognormal(0.0, 0.4, times.size)
            keep = marks < p["slap_rate_hz"] / MAX_SLAP_RATE_HZ
            slap_kernel = impact_kernel(kernel_noise, sr, modes_hz=[p["belt_span_hz"] * 4, p["frame_resonance_hz"]],
                                        decay_s=0.015, burst_decay_s=0.003, modal_weight=1.0)
            part = impacts(n, times[keep], amplitude[keep] * p["slap_ratio"], slap_kernel, sr)
            flap_mag = bandpass(f, centre_hz=4 * p["belt_span_hz"], q=1.0)
            flap_mag *= np.float32(p["flap_ratio"] / np.sqrt(np.mean(flap_mag**2)))
            flap = shape(white_spectrum(fault_rng, n), flap_mag, n, overwrite=True)
            flap *= smooth(wobble_knots, n, scale=0.5, offset=1.0)
            part += flap
        return out, part, events

    def _sound(self, p: Mapping[str, Any], run_s: np.ndarray, rolling: np.ndarray, phases: np.ndarray,
               belt_start: float, tick_kernel: np.ndarray, *, faulty: bool, n: int,
               sr: int) -> tuple[np.ndarray, np.ndarray]:
        """Conveyor without the brush noise (float32), loaded by the fault if ``faulty``; and the belt cycles."""
        g = (lambda key: float(p.get(key, 0.0))) if faulty else (lambda key: 0.0)
        speed_change = 1.0 + g("speed_change_fraction")
        motor_cyc = run_s * (speed_change * p["motor_rpm"] / 60)
        belt_cyc = run_s * (speed_change / p["belt_cycle_s"])
        belt_cyc += belt_start

        out = modulate(rolling * np.float32(db(g("rolling_gain_db"))),
                       sine(belt_cyc * p["pulley_turns_per_cycle"], phases[0]), 0.15)
        motor_level = db(p["motor_tone_level_db"]) * np.sqrt(2 / 1.25)
        k = harmonic_count(p["pinion_teeth"] * p["motor_rpm"] / 60 * 1.02, sr, 6)
        mesh_amps = [db(-6.0 * i) for i in range(k)]
        mesh_gain = db(p["mesh_level_db"] + g("mesh_gain_db")) / max(np.sqrt(np.sum(np.square(mesh_amps)) / 2), 1e-12)
        # motor 1x / 2x tones and the mesh harmonics, all orders of the motor rotation
        out += harmonics(motor_cyc, [motor_level, 0.5 * motor_level] + [a * mesh_gain for a in mesh_amps],
                         [phases[1], phases[1] + 1.0, *phases[2:2 + k]],
                         orders=[1, 2] + [p["pinion_teeth"] * (i + 1) for i in range(k)])

        # the belt seam passes a pulley each time belt_cyc * pulleys crosses a whole number
        ticks = crossings(belt_cyc, scale=p["pulleys"])
        out += impacts(n, ticks / sr, db(p["seam_tick_level_db"]), tick_kernel, sr)
        return out, belt_cyc


TOYCONVEYOR = ToyConveyor()

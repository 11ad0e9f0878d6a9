"""The plan fields every dataset-making configuration shares (synth, inject, experiments).

:class:`datasets.synth.SynthConfig`, :class:`datasets.blend.InjectConfig` and
:class:`pipeline.experiment.ExperimentSpec` extend :class:`DatasetPlan` with
what only they need and validate on construction; the shared fields are
declared here once. All fields are keyword-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping


@dataclass(frozen=True, kw_only=True)
class DatasetPlan:
    """Which clips a dataset holds and how they are drawn.

    Parameters
    ----------
    machine : str
        Generator machine name (``generators.registry.machine_names``).
    faults : tuple of str
        Fault types of the anomaly clips.
    severities : tuple of float
        Severity levels in [0, 1]; ``count`` anomaly clips per (fault, level).
    count : int
        Clips per class (normal train, normal test, each fault x severity).
    duration_s : float
        Clip length, seconds.
    sample_rate : int or None
        Hz; None = the machine's (or the recordings') own rate.
    seed : int
        Root seed; clip ``i`` draws from ``SeedSequence(seed, spawn_key=(i,))``.
    machine_id : str
        DCASE machine id in file names, e.g. ``"id_00"``.
    fixed : dict
        Fixed physical parameters (value or [low, high]), e.g. ``{"rpm": 1797, "bearing": "6205"}``.
    per_clip : bool
        Draw every generator parameter per clip (domain randomisation) instead of one
        machine per id (:mod:`generators.identity`).
    """

    machine: str
    faults: tuple[str, ...] = ()
    severities: tuple[float, ...] = (0.25, 0.5, 1.0)
    count: int = 10
    duration_s: float = 10.0
    sample_rate: int | None = None
    seed: int = 0
    machine_id: str = "id_00"
    fixed: Mapping[str, Any] = field(default_factory=dict)
    per_clip: bool = False

    def plan_fields(self) -> dict[str, Any]:
        """The :class:`DatasetPlan` fields of this configuration, by name (to build another from it)."""
        return {f.name: getattr(self, f.name) for f in fields(DatasetPlan)}

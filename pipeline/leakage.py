"""Train/test leakage through shared recordings: which clips were cut from audio the model trained on.

A clip cut from a real recording (``inject``, see ``datasets.blend._inject_one``)
names the recording and the segment in ``record.params``: ``source_path``
(absolute path of the recording), ``segment_start_s`` and ``segment_end_s``.
Two clips whose segments of one recording overlap share samples, so a test
clip overlapping a training segment is not fresh data. Any other clip spans
its own whole file.
"""

from __future__ import annotations

import bisect
import functools
import math
from pathlib import Path
from typing import Iterable, Sequence

from datasets.records import ClipRecord
from errors import FaultsynthError

#: One span: (resolved source file, start in s, end in s).
Span = tuple[str, float, float]


@functools.lru_cache(maxsize=4096)
def _resolved(path: str) -> str:
    """``path`` as an absolute resolved string (memoised: many spans share one recording)."""
    return str(Path(path).resolve())


def clip_span(record: ClipRecord) -> Span:
    """The stretch of audio a clip was cut from.

    Parameters
    ----------
    record : ClipRecord

    Returns
    -------
    (source_file, start_s, end_s) : tuple of (str, float, float)
        For a clip with ``source_path``, ``segment_start_s`` and ``segment_end_s``
        in its params: the resolved recording and the segment in seconds from
        its start. For any other clip: its own resolved file and
        ``(0, duration_s)``.

    Raises
    ------
    FaultsynthError
        If the segment bounds are not finite numbers with start < end.
    """
    params = record.params or {}
    if params.get("source_path"):
        try:
            start, end = float(params["segment_start_s"]), float(params["segment_end_s"])
        except (KeyError, TypeError, ValueError):
            raise FaultsynthError(f"{record.path}: params name a source_path but no numeric segment_start_s / "
                                  f"segment_end_s (seconds): got {params.get('segment_start_s')!r}, "
                                  f"{params.get('segment_end_s')!r}") from None
        if not (math.isfinite(start) and math.isfinite(end) and start < end):
            raise FaultsynthError(f"{record.path}: expected a segment with finite start < end in seconds, got "
                                  f"[{start}, {end}]")
        return _resolved(str(params["source_path"])), start, end
    return _resolved(str(record.file)), 0.0, float(record.duration_s)


class _SpanIndex:
    """Spans per source file, sorted by start, with the running maximum of their ends."""

    def __init__(self, spans: Iterable[Sequence]) -> None:
        by_file: dict[str, list[tuple[float, float]]] = {}
        for span in spans:
            if not isinstance(span, (list, tuple)) or len(span) != 3:
                raise FaultsynthError(f"a training span must be [source_file, start_s, end_s], got {span!r}")
            source, start, end = span
            try:
                start, end = float(start), float(end)
            except (TypeError, ValueError):
                raise FaultsynthError(f"a training span must be [source_file, start_s, end_s] with numbers in "
                                      f"seconds, got {span!r}") from None
            by_file.setdefault(_resolved(str(source)), []).append((start, end))
        self._starts: dict[str, list[float]] = {}
        self._max_ends: dict[str, list[float]] = {}
        for source, items in by_file.items():
            items.sort()
            self._starts[source] = [s for s, _ in items]
            running, ends = -math.inf, []
            for _, e in items:
                running = max(running, e)
                ends.append(running)
            self._max_ends[source] = ends

    def overlaps(self, source: str, start: float, end: float) -> bool:
        """True if some span of ``source`` shares a stretch of positive length with [start, end]."""
        starts = self._starts.get(source)
        if not starts:
            return False
        # Spans starting before ``end`` (strictly: touching ends share no audio); one of them
        # overlaps iff the latest end among them lies after ``start``.
        i = bisect.bisect_left(starts, end)
        return i > 0 and self._max_ends[source][i - 1] > start


def overlapping(records: Sequence[ClipRecord], spans: Iterable[Sequence]) -> list[bool]:
    """Which records share audio with any of ``spans``.

    Parameters
    ----------
    records : sequence of ClipRecord, length n
    spans : iterable of (source_file, start_s, end_s)
        e.g. the training spans of a bundle (``meta["train_summary"]["spans"]``).

    Returns
    -------
    list of bool, length n
        True where the record's :func:`clip_span` lies in the same source file
        as a span and the time ranges overlap; ranges that only touch
        (one ends where the other starts) do not overlap.
    """
    index = _SpanIndex(spans)
    return [index.overlaps(*clip_span(r)) for r in records]

"""Where the clip jobs of a dataset run: in this process, a local process pool, or a Dask cluster.

Every dataset writer (synth, inject, mix) hands its jobs to :func:`run_jobs`,
which returns the results in job order whatever runs them, so the output never
depends on the backend or the number of workers. Jobs are cut into shards of
consecutive jobs (a shard is a list of jobs; its results come back together);
each job carries its own seed, so a shard is deterministic wherever it runs.

Backends
--------
``scheduler=None``
    The default: ``workers`` forked processes (or this process when ``workers == 1``).
``scheduler="local:N"``
    A Dask ``LocalCluster`` of ``N`` single-threaded worker processes, started for the run.
``scheduler="tcp://HOST:PORT"``
    An existing Dask scheduler. Its workers must import faultsynth and see the
    output folder at the same path (a shared file system), or reach the same
    fsspec URL (:mod:`datasets.url_folder`).

Dask (``pip install faultsynth[dask]``) is imported only when a scheduler is given.
The shards of a worker that dies are run again on the others by Dask (a
``local:N`` cluster also restarts the worker); a shard writes its clips
atomically, so a rerun rewrites the same bytes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import uuid
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterator, Sequence

from errors import FaultsynthError

#: Jobs per shard sent to a Dask worker at most (one round trip per shard).
MAX_SHARD = 8
#: Shards in flight per Dask worker: enough to keep it busy, bounded to keep the client's memory flat.
SHARDS_IN_FLIGHT = 4


def check_scheduler(scheduler: str | None) -> str | None:
    """``scheduler`` if it is None, ``local:N`` (1 <= N <= 256) or ``tcp://HOST:PORT``; else FaultsynthError."""
    if scheduler is None:
        return None
    if isinstance(scheduler, str) and scheduler.startswith("local:"):
        n = scheduler[len("local:"):]
        if n.isdigit() and 1 <= int(n) <= 256:
            return scheduler
    elif isinstance(scheduler, str) and scheduler.startswith("tcp://") and ":" in scheduler[len("tcp://"):]:
        return scheduler
    raise FaultsynthError(f"--scheduler must be local:N (N workers, 1..256) or tcp://HOST:PORT, got {scheduler!r}")


def processes_here(workers: int, scheduler: str | None) -> int:
    """Processes that render on this machine (for the memory check): ``workers``, N of ``local:N``, or 1."""
    scheduler = check_scheduler(scheduler)
    if scheduler is None:
        return workers
    return int(scheduler[len("local:"):]) if scheduler.startswith("local:") else 1


def shard_size(n_jobs: int, workers: int) -> int:
    """Jobs per shard: about four shards per worker, 1..MAX_SHARD jobs each."""
    return max(1, min(MAX_SHARD, n_jobs // (4 * max(1, workers))))


def _run_shard(function: Callable, shard: Sequence) -> list:
    """``[function(job) for job in shard]``: the unit of work sent to a Dask worker."""
    return [function(job) for job in shard]


@contextlib.contextmanager
def executor(workers: int = 1, scheduler: str | None = None) -> Iterator[Callable[[Callable, list], Iterator]]:
    """A ``run(function, jobs)`` callable for the duration of the block.

    Parameters
    ----------
    workers : int
        Local processes (ignored when ``scheduler`` is given).
    scheduler : str or None
        ``None``, ``"local:N"`` or ``"tcp://HOST:PORT"`` (see the module docstring).

    Yields
    ------
    callable
        ``run(function, jobs)`` -> iterator of ``function(job)`` in job order.
        ``function`` must be a module-level function and the jobs picklable.
    """
    scheduler = check_scheduler(scheduler)
    if scheduler is None:
        with _local_pool(workers) as run:
            yield run
        return
    with dask_client(scheduler) as client:
        yield lambda function, jobs: _dask_map(client, function, jobs)


@contextlib.contextmanager
def _local_pool(workers: int) -> Iterator[Callable]:
    if not (isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1):
        raise FaultsynthError(f"workers must be a whole number >= 1, got {workers!r}")
    with contextlib.ExitStack() as stack:
        pools: list[ProcessPoolExecutor] = []

        def run(function: Callable, jobs: list) -> Iterator:
            if workers == 1 or len(jobs) < 2:
                return map(function, jobs)
            if not pools:  # forked on first use, before any progress-bar thread starts
                pools.append(stack.enter_context(ProcessPoolExecutor(
                    max_workers=workers, mp_context=multiprocessing.get_context("fork"))))
            return pools[0].map(function, jobs, chunksize=shard_size(len(jobs), workers))
        yield run


#: Dask's nannies start their workers with MALLOC_TRIM_THRESHOLD_=65536, which also turns off glibc's adaptive
#: mmap threshold: every clip-sized array is then mapped and unmapped afresh, and a 10-s fan clip renders in
#: about 1.5x the time (measured). A ``local:N`` cluster starts its workers without it.
MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"


@contextlib.contextmanager
def dask_client(scheduler: str):
    """A connected ``distributed.Client`` (and its LocalCluster for ``local:N``), closed afterwards."""
    try:
        import distributed
    except ImportError:
        raise FaultsynthError("--scheduler needs Dask: pip install 'faultsynth[dask]' "
                              "(or dask and distributed)") from None
    import dask

    with contextlib.ExitStack() as stack:
        if scheduler.startswith("local:"):
            # the nannies read the config when made and copy it into os.environ, which their workers inherit
            inherited = os.environ.pop(MALLOC_TRIM, None)
            if inherited is not None:
                stack.callback(os.environ.__setitem__, MALLOC_TRIM, inherited)
            with dask.config.set({f"distributed.nanny.pre-spawn-environ.{MALLOC_TRIM}": None}):
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=int(scheduler[len("local:"):]), threads_per_worker=1, processes=True,
                    dashboard_address=None))
            address = cluster.scheduler_address
        else:
            address = scheduler
        try:
            client = stack.enter_context(distributed.Client(address, timeout="10s"))
        except OSError as exc:
            raise FaultsynthError(f"--scheduler {scheduler}: cannot connect ({exc}): expected a running "
                                  "Dask scheduler at that address") from None
        yield client


def _dask_map(client, function: Callable, jobs: list) -> Iterator:
    """Shards of ``jobs`` on the cluster, a bounded number in flight; results in job order."""
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    size = shard_size(len(jobs), n_workers)
    shards = [jobs[i: i + size] for i in range(0, len(jobs), size)]
    window = SHARDS_IN_FLIGHT * n_workers
    name = getattr(function, "func", function).__name__  # task names say what runs (partials by their function)
    futures = []
    try:
        for shard in shards:
            # pure=False: a rerun of the same shard (resume) is a new task, not a cached result
            futures.append(client.submit(_run_shard, function, shard, pure=False, key=f"{name}-{uuid.uuid4().hex}"))
            if len(futures) >= window:
                yield from futures.pop(0).result()
        while futures:
            yield from futures.pop(0).result()
    finally:
        for future in futures:
            future.cancel()

"""A dataset root given as an fsspec URL (``file:///data/fan``, ``memory://fan``, ``s3://bucket/fan``...).

``synth`` writes to a URL with the guarantees it gives a local folder, as far as the
file system allows:

* every file is written whole under a temporary name (``.<name>.<random>.part``)
  and then moved to its final name, so a kill never leaves a half-written clip
  under its final name (on object stores an upload is whole by itself);
* the client writes ``manifest.csv`` last;
* an interrupted run resumes. Object stores cannot append, so the journal of
  finished clips is a series of whole files (``.faultsynth/synth-journal/*.jsonl``)
  rather than one appended file; a kill loses at most the entries not yet flushed,
  and those clips are rendered again (the same bytes).

A ``file://`` URL is locked like a local folder (one run at a time); other file
systems have no lock. fsspec is imported only here, when a URL is given, so a
local path never pays for it.
"""

from __future__ import annotations

import functools
import posixpath
import re
import time
import uuid
from pathlib import Path

from datasets.atomic import PART_SUFFIX
from errors import FaultsynthError

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
#: File systems whose files live in this process only (no worker processes can share them).
PROCESS_LOCAL = ("memory",)


def is_url(out) -> bool:
    """True if ``out`` is a string of the form ``protocol://...`` (a Path never is)."""
    return isinstance(out, str) and _SCHEME.match(out) is not None


def protocol(url: str) -> str:
    """The protocol of ``url`` (``"file"``, ``"memory"``, ``"s3"``...)."""
    return _SCHEME.match(url).group(1).lower()


def open_url(url: str):
    """``(filesystem, path)`` of ``url``; a FaultsynthError naming the package a missing file system needs.

    Raises
    ------
    FaultsynthError
        The protocol is unknown to fsspec, or its file-system package is not installed.
    """
    name = protocol(url)
    try:
        import fsspec.core
        from fsspec.registry import known_implementations
    except ImportError:
        raise FaultsynthError(f"{url}: an output URL needs fsspec: pip install fsspec") from None
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError:
        package = known_implementations.get(name, {}).get("class", name).split(".")[0]
        raise FaultsynthError(f"{url}: the {name}:// file system needs the package {package}: "
                              f"pip install {package}") from None
    except ValueError as exc:
        if name not in known_implementations:
            raise FaultsynthError(f"{url}: unknown protocol {name}://: expected a local folder or the URL of a "
                                  "file system fsspec knows (file://, memory://, s3:// with s3fs...)") from None
        raise FaultsynthError(f"{url}: not a usable {name}:// URL ({exc})") from None


class UrlFolder:
    """The few file operations ``synth`` makes on a dataset root given as a URL.

    Parameters
    ----------
    url : str
        ``protocol://path`` of the dataset root.

    Attributes
    ----------
    fs : fsspec.AbstractFileSystem
    root : str
        The root's path on ``fs`` (no trailing slash).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, path = open_url(url)
        self.root = path.rstrip("/") or "/"

    @property
    def process_local(self) -> bool:
        """True if the files live in this process only (``memory://``): no worker processes may write them."""
        return protocol(self.url) in PROCESS_LOCAL

    @property
    def local_path(self) -> Path | None:
        """The root as a local path for ``file://`` URLs (locking, disk-space check); else None."""
        from fsspec.implementations.local import LocalFileSystem

        return Path(self.root) if isinstance(self.fs, LocalFileSystem) else None

    def _full(self, rel: str) -> str:
        return posixpath.join(self.root, rel)

    def exists(self) -> bool:
        """True if the root exists."""
        return self.fs.exists(self.root)

    def files(self) -> set[str]:
        """Paths (relative to the root) of every file under it, hidden ones included."""
        if not self.fs.exists(self.root):
            return set()
        prefix = self.root.rstrip("/") + "/"
        return {p[len(prefix):] for p in self.fs.find(self.root) if p.startswith(prefix)}

    def read_text(self, rel: str) -> str | None:
        """The UTF-8 text of file ``rel``, or None if it does not exist."""
        try:
            return self.fs.cat_file(self._full(rel)).decode("utf-8")
        except FileNotFoundError:
            return None

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write ``data`` to ``rel`` whole: a temporary name first, then moved into place."""
        path = self._full(rel)
        folder, name = posixpath.split(path)
        self.fs.makedirs(folder, exist_ok=True)
        tmp = posixpath.join(folder, f".{name}.{uuid.uuid4().hex[:12]}{PART_SUFFIX}")
        try:
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)
        finally:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)

    def write_text(self, rel: str, text: str) -> None:
        """Write ``text`` (UTF-8) to ``rel`` whole."""
        self.write_bytes(rel, text.encode("utf-8"))

    def remove(self, rel: str) -> None:
        """Delete file or folder ``rel`` if present."""
        path = self._full(rel)
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    def remove_partial_files(self) -> None:
        """Delete the ``*.part`` files under the root: writes cut short by a killed process."""
        for rel in self.files():
            if rel.endswith(PART_SUFFIX):
                self.remove(rel)

    def clear(self, *, remove_root: bool) -> None:
        """Delete everything under the root (and the root itself if ``remove_root``)."""
        if remove_root:
            self.remove("")
            return
        for entry in self.fs.ls(self.root, detail=False):
            self.fs.rm(entry, recursive=True)


@functools.lru_cache(maxsize=8)
def url_folder(url: str) -> UrlFolder:
    """:class:`UrlFolder` of ``url``, opened once per process (workers write many clips)."""
    return UrlFolder(url)


class JournalChunks:
    """The journal of finished clips on a URL: whole files of JSON lines, one per flush.

    Parameters
    ----------
    folder : UrlFolder
    rel : str
        Folder of the chunk files, relative to the root.
    every : int
        Entries per chunk at most.
    seconds : float
        A chunk is also written when the oldest pending entry is this old.
    """

    def __init__(self, folder: UrlFolder, rel: str, *, every: int = 256, seconds: float = 2.0) -> None:
        self.folder, self.rel, self.every, self.seconds = folder, rel, every, seconds
        self.pending: list[str] = []
        self.since = 0.0

    def chunk_names(self) -> list[str]:
        """Relative paths of the journal's chunk files, in order."""
        prefix = self.rel.rstrip("/") + "/"
        return sorted(p for p in self.folder.files() if p.startswith(prefix) and p.endswith(".jsonl"))

    def lines(self) -> list[str]:
        """Every journalled line, from every chunk."""
        return [line for name in self.chunk_names() for line in (self.folder.read_text(name) or "").splitlines()]

    def write(self, line: str) -> None:
        """Add one entry; flush when enough entries or time have gathered."""
        if not self.pending:
            self.since = time.monotonic()
        self.pending.append(line)
        if len(self.pending) >= self.every or time.monotonic() - self.since >= self.seconds:
            self.flush()

    def flush(self) -> None:
        """Write the pending entries as one new chunk file."""
        if self.pending:
            name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.jsonl"
            self.folder.write_text(posixpath.join(self.rel, name), "".join(f"{s}\n" for s in self.pending))
            self.pending = []

    def __enter__(self) -> "JournalChunks":
        return self

    def __exit__(self, *exc) -> None:
        self.flush()  # also on an error or Ctrl-C: the finished clips are not redone

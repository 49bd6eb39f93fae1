"""Where a dataset lives: a local directory (a shared network mount included) or a URL that
fsspec understands (`s3://bucket/prefix`, `gs://…`, `az://…`, `file:///…`).

Only a handful of operations are needed, and every one of them keeps the dataset readable at any
moment: files appear whole (written under a temporary name, then renamed; an object-store put is
atomic by itself), the manifest grows by new commit files only, and part files are removed only
after the commit that stopped listing them.
"""

from __future__ import annotations

import os
import posixpath
import uuid
from typing import Any


def is_url(location: str) -> bool:
    """A URL (`scheme://…`) rather than a local path."""
    return "://" in location


class Storage:
    """The dataset root and the file operations on it; paths below are relative to the root."""

    def __init__(self, root: str | os.PathLike[str], storage_options: dict[str, Any] | None = None) -> None:
        location = os.fspath(root)
        self.storage_options = storage_options
        self._fs: Any = None
        if is_url(location):
            try:
                from fsspec.core import url_to_fs
            except ImportError as exc:  # pragma: no cover - fsspec comes with the dask extra
                raise RuntimeError(
                    f"{location}: a dataset URL needs fsspec (pip install 'fastcap[dask]')"
                ) from exc
            self._fs, self._base = url_to_fs(location, **(storage_options or {}))
            self.root = location.rstrip("/")
        else:
            self._base = os.path.abspath(location)
            self.root = self._base

    @property
    def is_local(self) -> bool:
        return self._fs is None

    def url(self, rel: str) -> str:
        """What readers (Polars) are given for `rel`: a local path or a URL."""
        if self._fs is None:
            return os.path.join(self._base, *rel.split("/"))
        return f"{self.root}/{rel}"

    def _full(self, rel: str) -> str:
        if self._fs is None:
            return os.path.join(self._base, *rel.split("/"))
        return posixpath.join(self._base, rel)

    def exists(self, rel: str = "") -> bool:
        if self._fs is None:
            return os.path.exists(self._full(rel)) if rel else os.path.isdir(self._base)
        return bool(self._fs.exists(self._full(rel) if rel else self._base))

    def read_bytes(self, rel: str) -> bytes:
        if self._fs is None:
            with open(self._full(rel), "rb") as fh:
                return fh.read()
        data: bytes = self._fs.cat_file(self._full(rel))
        return data

    def write_atomic(self, rel: str, data: bytes) -> None:
        """Write `rel` so that it appears whole or not at all."""
        full = self._full(rel)
        if self._fs is None:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            tmp = os.path.join(os.path.dirname(full), f".{os.path.basename(full)}.{uuid.uuid4().hex[:8]}.tmp")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, full)
            return
        parent = posixpath.dirname(full)
        self._fs.makedirs(parent, exist_ok=True)
        if _is_local_fs(self._fs):
            tmp = posixpath.join(parent, f".{posixpath.basename(full)}.{uuid.uuid4().hex[:8]}.tmp")
            self._fs.pipe_file(tmp, data)
            self._fs.mv(tmp, full)
        else:  # object stores: one put is atomic
            self._fs.pipe_file(full, data)

    def listdir(self, rel: str, suffix: str = "") -> list[str]:
        """The names of the files directly in `rel` that end with `suffix`, sorted; none if absent."""
        full = self._full(rel)
        if self._fs is None:
            if not os.path.isdir(full):
                return []
            names = os.listdir(full)
        else:
            if not self._fs.exists(full):
                return []
            names = [posixpath.basename(p.rstrip("/")) for p in self._fs.ls(full, detail=False)]
        return sorted(n for n in names if n.endswith(suffix) and not n.startswith("."))

    def remove(self, rel: str) -> None:
        """Remove a file; a missing one is fine."""
        full = self._full(rel)
        try:
            if self._fs is None:
                os.remove(full)
            else:
                self._fs.rm_file(full)
        except FileNotFoundError:
            pass


def _is_local_fs(fs: Any) -> bool:
    protocol = getattr(fs, "protocol", ())
    names = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    return "file" in names or "local" in names

"""What identifies a capture: the blake2b hash of its bytes, and of its first bytes.

`content_hash` covers the whole file as it was ingested, so a capture ingested again unchanged is
recognised (and skipped) whatever its path. `head_hash` covers the first `HEAD_BYTES`: a capture
still being written keeps its head, so a file whose head matches a manifest row, that is larger
than that row's `size` and whose first `size` bytes hash to that row's `content_hash`, is the same
capture grown since; it is ingested again as a whole under the same `capture_id`. One read of the
file gives every hash (`hash_file`'s checkpoints).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace

HEAD_BYTES = 64 << 10
_PIECE = 4 << 20
DIGEST_SIZE = 32


def _new() -> hashlib.blake2b:
    return hashlib.blake2b(digest_size=DIGEST_SIZE)


def hash_file(
    path: str | os.PathLike[str], checkpoints: Iterable[int] = ()
) -> tuple[int, str, dict[int, str]]:
    """(size, hash of the whole file, {offset: hash of the first `offset` bytes}) in one read;
    checkpoints beyond the end of the file are left out."""
    marks = sorted(set(checkpoints))
    h = _new()
    at: dict[int, str] = {}
    pos = 0
    with open(path, "rb") as fh:
        while True:
            piece = fh.read(_PIECE)
            if not piece:
                break
            start = 0
            while marks and marks[0] <= pos + len(piece):
                cut = marks.pop(0) - pos
                h.update(memoryview(piece)[start:cut])
                start = cut
                at[pos + cut] = h.copy().hexdigest()
            h.update(memoryview(piece)[start:])
            pos += len(piece)
    for mark in marks:  # only 0 can be left here (an empty file)
        if mark <= pos:
            at[mark] = h.hexdigest()
    return pos, h.hexdigest(), at


def hash_head(path: str | os.PathLike[str], length: int) -> str:
    """The hash of the first `length` bytes (all of them when the file is shorter)."""
    with open(path, "rb") as fh:
        return _new_with(fh.read(length))


def _new_with(data: bytes) -> str:
    h = _new()
    h.update(data)
    return h.hexdigest()


@dataclass(frozen=True)
class Fingerprint:
    """One input file as found: its hashes and, when it is a capture seen before, which one."""

    path: str
    size: int
    mtime: float
    content_hash: str
    head_len: int
    head_hash: str
    # The manifest row it matched: `same` (unchanged: skip) or `grown` (ingest again, same id).
    match: str | None = None
    capture_id: str | None = None


@dataclass(frozen=True)
class Known:
    """What the manifest says of one capture, for matching."""

    capture_id: str
    size: int
    content_hash: str
    head_len: int | None
    head_hash: str | None


def fingerprint(path: str, known: list[Known]) -> Fingerprint:
    """Hash `path` and match it against the captures of the manifest: the same content, else a
    capture it extends (the largest one, if it extends several generations)."""
    stat = os.stat(path)
    by_hash = {k.content_hash: k for k in known}
    # Candidates for "grew": same head, smaller size.
    heads: dict[int, str] = {}
    candidates: list[Known] = []
    for k in known:
        if k.head_len is None or k.head_hash is None or k.size >= stat.st_size:
            continue
        if k.head_len not in heads:
            heads[k.head_len] = hash_head(path, k.head_len)
        if heads[k.head_len] == k.head_hash:
            candidates.append(k)
    size, full, at = hash_file(path, [HEAD_BYTES, *(k.size for k in candidates)])
    head_len = min(size, HEAD_BYTES)
    head = at.get(head_len, full)
    base = Fingerprint(path, size, stat.st_mtime, full, head_len, head)
    same = by_hash.get(full)
    if same is not None:
        return replace(base, match="same", capture_id=same.capture_id)
    grown = [k for k in candidates if at.get(k.size) == k.content_hash]
    if grown:
        k = max(grown, key=lambda k: k.size)
        return replace(base, match="grown", capture_id=k.capture_id)
    return base

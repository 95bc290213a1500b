"""Fingerprints of bytes, files and directory trees.

* **file**: its raw bytes, BLAKE3 in ordinary mode (what ``b3sum`` prints).  Large files are
  memory-mapped and hashed on every core.  A file that changes while it is read is read again.
  An unchanged file is answered from a :class:`~threadline.fingerprint.cache.FingerprintCache`.
* **directory**: a Merkle tree in the style of a git tree.  Each directory node hashes its
  entries sorted by name (bytes), each entry being (type, name, child digest); files contribute
  their file fingerprint, sub-directories their node digest (so empty directories count),
  symlinks the digest of their target string (never followed).  Sockets, FIFOs and devices have
  no content and are left out.  Permissions and timestamps are not content and are left out.
"""

from __future__ import annotations

import os
import stat
from typing import Final

from threadline.errors import NotFound, UsageError
from threadline.fingerprint.cache import (
    DEFAULT,
    FingerprintCache,
    UseDefault,
    file_state,
    resolve_cache,
)
from threadline.fingerprint.hashing import (
    CTX_DIRECTORY,
    CTX_SYMLINK,
    READ_CHUNK,
    Hasher,
    new_hasher,
    u64,
)
from threadline.model.ids import content_version

__all__ = ["fingerprint_bytes", "fingerprint_directory", "fingerprint_file", "fingerprint_path"]

# Below this size a file is read with one plain read; from here on memory-mapping with all
# cores wins (measured with blake3 1.0: thread start-up costs more than it saves under ~1 MiB).
_MMAP_MIN: Final = 1 << 20
# Attempts at hashing a file that keeps changing under us before giving up on a stable read.
_FILE_ATTEMPTS: Final = 3


def fingerprint_bytes(data: bytes | bytearray | memoryview) -> str:
    """The fingerprint of raw bytes: equal to :func:`fingerprint_file` of a file holding them."""
    if isinstance(data, memoryview) and (not data.c_contiguous or data.format != "B"):
        # BLAKE3 takes flat unsigned bytes only; a strided view has to be gathered first.
        data = data.tobytes() if not data.c_contiguous else data.cast("B")
    hasher = new_hasher(size_hint=len(data) if not isinstance(data, memoryview) else data.nbytes)
    hasher.update(data)
    return content_version(hasher.hexdigest())


def fingerprint_file(
    path: str | os.PathLike[str], *, cache: FingerprintCache | UseDefault | None = DEFAULT
) -> str:
    """The fingerprint of a regular file: BLAKE3 of its bytes, as ``b3sum`` prints it.

    Symlinks to a file are followed.  The file is streamed or memory-mapped, never read whole.
    An unchanged file (same device, inode, size, mtime and ctime) is answered from ``cache``.
    Raises :class:`NotFound` for a missing path and :class:`UsageError` for a non-file.

    Memory-mapping means that a file truncated by another process *while* it is hashed can
    kill this process with ``SIGBUS``, as it can ``b3sum``; that is the price of full speed.
    """
    name = os.fspath(path)
    store = resolve_cache(cache)
    before = _stat_existing(name)
    if not stat.S_ISREG(before.st_mode):
        raise _not_a_file(name, before)
    if store is not None:
        hit = store.lookup(before)
        if hit is not None:
            return hit
    fingerprint = ""
    for _ in range(_FILE_ATTEMPTS):
        fingerprint = content_version(_hash_file(name, before.st_size))
        after = _stat_existing(name)
        if file_state(after) == file_state(before):
            if store is not None:
                store.remember(after, fingerprint)
            return fingerprint
        # Written to while we read it: the digest may mix old and new bytes, so read again.
        before = after
    # Still changing after several reads: return the last digest but never cache it.
    return fingerprint


def _hash_file(name: str, size: int) -> str:
    if size >= _MMAP_MIN:
        hasher = new_hasher(size_hint=size)
        try:
            hasher.update_mmap(name)
        except OSError:
            # Some filesystems (procfs, certain FUSE mounts) refuse mmap; stream instead.
            return _hash_stream(name, new_hasher(size_hint=size))
        return hasher.hexdigest()
    return _hash_stream(name, new_hasher(), first_read=size + 1)


def _hash_stream(name: str, hasher: Hasher, *, first_read: int = READ_CHUNK) -> str:
    with open(name, "rb", buffering=0) as handle:
        # The first read asks for one byte more than stat reported, so a small unchanged file
        # takes one read; if it grew meanwhile the loop goes on in bounded chunks.
        chunk = handle.read(first_read)
        while chunk:
            hasher.update(chunk)
            chunk = handle.read(READ_CHUNK)
    return hasher.hexdigest()


def _stat_existing(name: str) -> os.stat_result:
    try:
        return os.stat(name)
    except (FileNotFoundError, NotADirectoryError):
        if os.path.islink(name):
            raise NotFound(
                f"broken symbolic link: {name} -> {os.readlink(name)}; fix or remove the link"
            ) from None
        where = "" if os.path.isabs(name) else f" (relative to {os.getcwd()})"
        raise NotFound(f"no such file or directory: {name}{where}; check the path") from None


def _not_a_file(name: str, st: os.stat_result) -> UsageError:
    if stat.S_ISDIR(st.st_mode):
        return UsageError(f"{name} is a directory; use fingerprint_directory or fingerprint_path")
    return UsageError(f"{name} is not a regular file or directory and has no content to hash")


def fingerprint_directory(
    path: str | os.PathLike[str], *, cache: FingerprintCache | UseDefault | None = DEFAULT
) -> str:
    """The Merkle fingerprint of a directory tree (see the module docstring for the layout).

    The top-level path may be a symlink to a directory; links inside the tree are not followed.
    """
    name = os.fspath(path)
    st = _stat_existing(name)
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{name} is not a directory; use fingerprint_file or fingerprint_path")
    return content_version(_tree_digest(name, resolve_cache(cache)).hex())


def _tree_digest(directory: str, store: FingerprintCache | None) -> bytes:
    entries: list[tuple[bytes, bytes, bytes]] = []
    with os.scandir(directory) as listing:
        for entry in listing:
            if entry.is_symlink():
                target = new_hasher(CTX_SYMLINK)
                target.update(os.fsencode(os.readlink(entry.path)))
                entries.append((os.fsencode(entry.name), b"l", target.digest()))
            elif entry.is_dir(follow_symlinks=False):
                entries.append((os.fsencode(entry.name), b"d", _tree_digest(entry.path, store)))
            elif entry.is_file(follow_symlinks=False):
                digest = bytes.fromhex(fingerprint_file(entry.path, cache=store)[3:])
                entries.append((os.fsencode(entry.name), b"f", digest))
    # Names are unique within a directory, so sorting by name alone orders entries totally,
    # and the byte order does not depend on the locale or on the order of creation.
    entries.sort()
    node = new_hasher(CTX_DIRECTORY)
    node.update(u64(len(entries)))
    for entry_name, kind, digest in entries:
        node.update(kind + u64(len(entry_name)) + entry_name + digest)
    return node.digest()


def fingerprint_path(
    path: str | os.PathLike[str], *, cache: FingerprintCache | UseDefault | None = DEFAULT
) -> str:
    """The fingerprint of a file or a directory, whichever ``path`` is."""
    name = os.fspath(path)
    st = _stat_existing(name)
    if stat.S_ISDIR(st.st_mode):
        return fingerprint_directory(name, cache=cache)
    if stat.S_ISREG(st.st_mode):
        return fingerprint_file(name, cache=cache)
    raise _not_a_file(name, st)

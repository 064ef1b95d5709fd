"""Prepared-events cache: validated, deduplicated, ordered, encoded frames written once.

Every notebook of a report run loads the same event log.  The first load writes
the finished frame (and its load report) as an uncompressed Arrow IPC file; every
later load of the same file with the same options memory-maps it instead of
reading, validating and sorting again.

Key
    The input file's resolved path, size, ``mtime_ns`` and a SHA-256 of its first
    and last MiB (the whole file when smaller), the loader and all its options,
    the package version and a hash of the loading code itself.  Any change to one
    of them is a different key, so a cached frame is never stale: touching or
    editing the input, changing an option or upgrading the loader misses.
Location
    ``$ENGAGEMENT_CACHE_DIR`` when set, else ``.cache/prepared/`` under the working
    directory (the project root: notebooks and reports run from there; git-ignored).
    ``cache=False`` on the loaders skips it.
Safety
    Input files are only read.  Cache files are written to a temporary name and
    renamed into place (atomic on one file system), so a concurrent reader sees a
    whole file or none; an unreadable or inconsistent cache file is ignored,
    deleted and rebuilt.  Older entries for the same input and options are removed
    when a new one is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Callable

import pandas as pd

from .read import arrow_to_pandas
from .validate import categorical_dtype

__all__ = ["CACHE_ENV", "cache_dir", "cached_frame", "clear_cache"]

CACHE_ENV = "ENGAGEMENT_CACHE_DIR"
_FORMAT = 1
_EDGE = 1 << 20  # bytes hashed at each end of the input
_META = b"engagement_utils"


def cache_dir() -> Path:
    """Where prepared frames are kept: ``$ENGAGEMENT_CACHE_DIR`` or ``./.cache/prepared``.

    Examples
    --------
    >>> cache_dir().name in ("prepared", Path(os.environ.get(CACHE_ENV, "prepared")).name)
    True
    """
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.cwd() / ".cache" / "prepared"


def clear_cache() -> int:
    """Delete every prepared frame in :func:`cache_dir`; returns how many files were removed.

    Examples
    --------
    >>> isinstance(clear_cache(), int)
    True
    """
    folder = cache_dir()
    removed = 0
    for file in folder.glob("*.arrow") if folder.is_dir() else []:
        file.unlink(missing_ok=True)
        removed += 1
    return removed


@lru_cache(maxsize=1)
def _code_version() -> str:
    """Package version plus a hash of the loading code: a changed loader never reads old entries."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("engagement_utils")
    except PackageNotFoundError:
        package = "unknown"
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(package.encode())
    # sources.py reads its conditions and expressions with filters.py and _grammar.py: loading code too.
    loading = ["sources.py", "filters.py", "_grammar.py", "_arrays.py"]
    for file in sorted(root.glob("io/*.py")) + [root / name for name in loading]:
        if file.exists():
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _fingerprint(path: Path) -> dict:
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if stat.st_size <= 2 * _EDGE:
            digest.update(handle.read())
        else:
            digest.update(handle.read(_EDGE))
            handle.seek(-_EDGE, os.SEEK_END)
            digest.update(handle.read(_EDGE))
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256_edges": digest.hexdigest()}


def _key(identity: dict, fingerprint: dict) -> tuple[str, str]:
    who = hashlib.sha256(json.dumps(identity, sort_keys=True, default=repr).encode()).hexdigest()[:20]
    what = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:20]
    return who, what


def cached_frame(path, loader: str, options: dict, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """``build()``'s frame for the input file ``path``, from the cache when it holds it.

    Parameters
    ----------
    path : path
        The input file ``build`` reads (fingerprinted, never written).
    loader : str
        Name of the loading function (part of the key).
    options : dict
        Every option that changes the result (part of the key; values rendered with ``repr``).
    build : callable
        Loads the frame when the cache misses; its errors propagate and nothing is cached.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "in.csv").write_text("a\\n1\\n")
    >>> os.environ[CACHE_ENV] = str(folder / "cache")
    >>> first = cached_frame(folder / "in.csv", "demo", {}, lambda: pd.DataFrame({"a": [1]}))
    >>> cached_frame(folder / "in.csv", "demo", {}, lambda: 1 / 0).equals(first)  # a hit: build is not called
    True
    >>> del os.environ[CACHE_ENV]
    """
    path = Path(path)
    identity = {"loader": loader, "options": options, "code": _code_version(), "format": _FORMAT,
                "path": str(path.resolve())}
    try:
        before = _fingerprint(path)
    except OSError:
        return build()
    who, what = _key(identity, before)
    folder = cache_dir()
    file = folder / f"{who}-{what}.arrow"
    if file.exists():
        frame = _read(file)
        if frame is not None:
            return frame
        file.unlink(missing_ok=True)
    frame = build()
    try:
        if _fingerprint(path) == before:  # the input did not change while it was read
            _write(frame, folder, file, who)
    except Exception:  # noqa: BLE001 - best effort: an uncachable frame (mixed-type ids) or folder is just not cached
        pass
    return frame


def _write(frame: pd.DataFrame, folder: Path, file: Path, who: str) -> None:
    import pyarrow as pa

    categories = {col: str(frame[col].cat.categories.dtype) for col in frame.columns
                  if isinstance(frame[col].dtype, pd.CategoricalDtype)}
    meta = {"format": _FORMAT, "attrs": frame.attrs, "categories": categories, "rows": len(frame),
            "columns": [str(c) for c in frame.columns]}
    table = pa.Table.from_pandas(frame, preserve_index=False)
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[_META] = json.dumps(meta).encode()
    table = table.replace_schema_metadata(schema_meta)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{file.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, file)
    finally:
        tmp.unlink(missing_ok=True)
    for old in folder.glob(f"{who}-*.arrow"):
        if old != file:
            old.unlink(missing_ok=True)


def _read(file: Path) -> pd.DataFrame | None:
    """The cached frame, or None when the file is unreadable or inconsistent."""
    import pyarrow as pa

    try:
        with pa.memory_map(str(file)) as source:
            table = pa.ipc.open_file(source).read_all()
        meta = json.loads(table.schema.metadata[_META])
        if meta.get("format") != _FORMAT or table.num_rows != meta["rows"]:
            return None
        frame = arrow_to_pandas(table, sort_dictionaries=False)  # Arrow's own conversion: ~3 s at 10M
        if [str(c) for c in frame.columns] != meta["columns"]:
            return None
        for col, dtype in meta["categories"].items():
            values = frame[col]
            if not isinstance(values.dtype, pd.CategoricalDtype):
                return None
            if str(values.cat.categories.dtype) != dtype:
                categories = values.cat.categories.astype(dtype)
                frame[col] = pd.Categorical.from_codes(values.cat.codes.to_numpy(), dtype=categorical_dtype(categories))
        frame.attrs.update(meta["attrs"])
        return frame
    except Exception:  # any damage: rebuild from the input
        return None

"""The report folder tells the truth: what is in it, when it was built, from what.

A small record (``.engagement-reports.json``) kept next to the reports says,
for every report, when it was built, from which inputs (fingerprint) and how
its latest run went; ``index.html`` is rendered from it and from the files
actually present, so a subset run keeps the other reports listed, a report
whose inputs changed since is marked stale, and a report kept after a failed
run says so.  A lock file makes a second run into the same folder refuse.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from ..display import check_no_user_ids
from .render import IndexEntry, render_index

__all__ = [
    "INDEX_NAME",
    "LOCK_NAME",
    "MANIFEST_NAME",
    "FAILED_DIR",
    "FolderLockedError",
    "folder_lock",
    "format_time",
    "index_entries",
    "load_manifest",
    "relative_link",
    "update_manifest",
    "write_atomic",
    "write_index",
]

INDEX_NAME = "index.html"
MANIFEST_NAME = ".engagement-reports.json"
LOCK_NAME = ".engagement-report.lock"
FAILED_DIR = "_failed"


class FolderLockedError(RuntimeError):
    """Another run is writing into the same report folder; the CLI exits 3.

    Attributes
    ----------
    lock_path : Path
        The lock file.
    pid : int or None
        Process id of the run holding it.
    """

    def __init__(self, lock_path: Path, pid: int | None, host: str | None, since: str | None):
        self.lock_path, self.pid = lock_path, pid
        where = f" on {host}" if host and host != socket.gethostname() else ""
        super().__init__(
            f"another engagement-report run (pid {pid}{where}, started {since or 'at an unknown time'}) "
            f"is writing into this folder: lock file {os.path.abspath(lock_path)!r}; wait for it to finish, or delete "
            "the lock file if that process is gone"
        )


def format_time(moment: datetime | None = None) -> str:
    """A UTC time as reports show it (``2024-05-01 10:00:03 UTC``).

    Examples
    --------
    >>> format_time(datetime(2024, 5, 1, 10, 0, 3, tzinfo=timezone.utc))
    '2024-05-01 10:00:03 UTC'
    """
    moment = datetime.now(timezone.utc) if moment is None else moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace ``path`` in one step, so a reader never sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        # mkstemp creates 0600 files; reports should be as readable as any other file
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def relative_link(path: Path, base: Path) -> str:
    """URL of ``path`` relative to the folder ``base`` (percent-encoded).

    Examples
    --------
    >>> relative_link(Path("out/_failed/a b.ipynb"), Path("out"))
    '_failed/a%20b.ipynb'
    """
    return quote(os.path.relpath(path, base).replace(os.sep, "/"))


# ---------------------------------------------------------------- lock


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


@contextlib.contextmanager
def folder_lock(output_dir: Path) -> Iterator[Path]:
    """Hold the report folder's lock file while a run writes into it.

    Raises
    ------
    FolderLockedError
        If a live process (this host) or any process on another host holds it.
        A lock left by a process that no longer exists is taken over.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": format_time()}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                held = json.loads(path.read_text(encoding="utf-8") or "{}")
            except (OSError, ValueError):
                held = {}
            pid = held.get("pid") if isinstance(held.get("pid"), int) else None
            host = held.get("host")
            if pid is not None and (host != me["host"] or _pid_alive(pid)):
                raise FolderLockedError(path, pid, host, held.get("started")) from None
            if pid is None and not path.exists():
                continue
            if pid is None:
                raise FolderLockedError(path, None, host, held.get("started")) from None
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # left behind by a run that no longer exists
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(me, fh)
        break
    else:
        raise FolderLockedError(path, None, None, None)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == me["pid"]:
                path.unlink()


# ---------------------------------------------------------------- manifest


def load_manifest(output_dir: Path) -> dict[str, dict[str, Any]]:
    """Records of the folder's reports by notebook name (empty when there is none or it is unreadable)."""
    try:
        loaded = json.loads((output_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    reports = loaded.get("reports") if isinstance(loaded, dict) else None
    return {str(k): v for k, v in reports.items() if isinstance(v, dict)} if isinstance(reports, dict) else {}


def update_manifest(output_dir: Path, records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Merge the latest run's records into the folder's and write them.

    A record of a failed run keeps the earlier record's build (time,
    fingerprint, key numbers: they describe the report kept in the folder)
    and stores the failure under ``last_run``.

    Parameters
    ----------
    output_dir : Path
        The report folder.
    records : sequence of mapping
        ``NotebookResult.to_record()`` of each notebook of the run.

    Returns
    -------
    dict
        All records by name.
    """
    manifest = load_manifest(output_dir)
    for record in records:
        record = dict(record)
        earlier = manifest.get(record["name"])
        if record["last_run"]["status"] != "ok":
            kept = {k: v for k, v in (earlier or {}).items() if k != "last_run"}
            html = output_dir / f"{record['name']}.html"
            if not kept and html.exists():
                kept = {"built_at": format_time(datetime.fromtimestamp(html.stat().st_mtime, timezone.utc))
                        + " (file time)"}
            if not html.exists():
                kept = {}
            record = {**record, "html": record["name"] + ".html" if html.exists() else None,
                      "built_at": None, "fingerprint": None, "sources": [], "inputs": [],
                      "parameters": {}, "key_numbers": {}, **kept, "last_run": record["last_run"]}
        manifest[record["name"]] = record
    write_atomic(output_dir / MANIFEST_NAME,
                 json.dumps({"version": 1, "reports": manifest}, indent=1, sort_keys=True, ensure_ascii=False))
    return manifest


def _changed_inputs(record: Mapping[str, Any], cwd: Path) -> list[str]:
    changed = []
    for item in record.get("inputs") or []:
        path = Path(item["path"])
        path = path if path.is_absolute() else cwd / path
        try:
            stat = path.stat()
        except OSError:
            changed.append(f"{item['path']} (gone)")
            continue
        if stat.st_size != item.get("size") or stat.st_mtime_ns != item.get("mtime_ns"):
            changed.append(item["path"])
    return changed


def index_entries(
    output_dir: Path,
    manifest: Mapping[str, Mapping[str, Any]],
    latest_run: Sequence[str],
    cwd: Path | None = None,
) -> list[IndexEntry]:
    """Rows of the index: every report file in the folder, and every failure of the latest run.

    Parameters
    ----------
    output_dir : Path
        The report folder.
    manifest : mapping
        Records by name (:func:`update_manifest`).
    latest_run : sequence of str
        Names of the notebooks of the latest run (listed first, in run order).
    cwd : Path, optional
        Folder relative input paths are read from (default: the current one).

    Returns
    -------
    list of IndexEntry
    """
    cwd = Path.cwd() if cwd is None else cwd
    present = {p.stem for p in output_dir.glob("*.html") if p.name != INDEX_NAME}
    order = list(dict.fromkeys([*latest_run, *sorted(set(manifest) | present)]))
    entries = []
    for name in order:
        record = manifest.get(name, {})
        last = record.get("last_run") or {}
        has_report = name in present
        if not has_report and not (name in latest_run and last.get("status") == "failed"):
            continue
        entry = IndexEntry(
            name=name,
            title=str(record.get("title") or name),
            status="unrecorded",
            href=relative_link(output_dir / f"{name}.html", output_dir) if has_report else None,
            built_at=record.get("built_at"),
            fingerprint=record.get("fingerprint"),
            sources=[str(s) for s in record.get("sources") or []],
            key_numbers={str(k): str(v) for k, v in (record.get("key_numbers") or {}).items()},
            parameters={str(k): str(v) for k, v in (record.get("parameters") or {}).items()},
        )
        if not record and has_report:
            mtime = datetime.fromtimestamp((output_dir / f"{name}.html").stat().st_mtime, timezone.utc)
            entry.built_at = format_time(mtime) + " (file time)"
            entry.note = "no record of how it was built (made before this folder kept records)"
        elif last.get("status") == "failed":
            entry.status = "failed" if name in latest_run else "earlier"
            where = "latest run" if name in latest_run else "last run"
            failure = str(last.get("failure") or "an unknown error")
            how = f"failed at {failure}" if failure.startswith("cell ") else f"failed: {failure}"
            entry.failure = f"{where} ({last.get('at')}) {how}"
            if last.get("failed_notebook") and (output_dir / last["failed_notebook"]).exists():
                entry.failed_notebook_href = str(last["failed_notebook"])
            if not has_report:
                entry.note = "no earlier report"
        elif name in latest_run:
            entry.status = "ok"
        else:
            changed = _changed_inputs(record, cwd)
            entry.status = "stale" if changed else "earlier"
            if changed:
                entry.note = "inputs changed since it was built: " + ", ".join(changed)
        entries.append(entry)
    # the index is a report too: it must not show raw user ids
    check_no_user_ids(pd.DataFrame([{**e.key_numbers} for e in entries]))
    return entries


def write_index(output_dir: Path, latest_run: Sequence[str], run_at: str | None, cwd: Path | None = None) -> Path:
    """Render ``index.html`` from the folder's records and files; returns its path."""
    entries = index_entries(output_dir, load_manifest(output_dir), latest_run, cwd)
    path = output_dir / INDEX_NAME
    write_atomic(path, render_index(entries, run_at=run_at))
    return path

"""Backups of the SQLite database, and the lock that tells a restore whether a bot is running.

* :func:`backup`: SQLite's online backup API, safe while the bot runs. The copy is taken inside ONE read
  transaction of the source (WAL: writers go on meanwhile), in one step, so it is the database as it was at
  one moment; the rows of every table are counted in that same transaction and compared with the copy, and
  the copy passes ``PRAGMA integrity_check`` before it replaces ``PATH`` (written next to it, then renamed).
  The copy is one self-contained file (rollback journal mode, no -wal beside it).
* :func:`restore`: the reverse, only while no bot has the database open. Every running bot holds a SHARED
  ``flock`` on ``DATABASE_PATH.lock`` (:class:`RunLock`, taken by the app factory); a restore needs it
  EXCLUSIVE and refuses at once when it cannot have it. A crashed bot holds nothing (the kernel drops the
  lock with the process). The database replaced is kept beside it as ``DATABASE_PATH.pre-restore`` (with its
  -wal, so nothing committed is lost).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["BackupError", "BackupReport", "RunLock", "backup", "restore", "verify"]

SIDE_FILES = ("-wal", "-shm")


class BackupError(Exception):
    """A backup or a restore that cannot be done; ``key`` names the reason, the message is one line."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class BackupReport:
    path: Path
    bytes: int
    seconds: float
    rows: dict[str, int]


# ----------------------------------------------------------------------------------- the run lock

class RunLock:
    """``DATABASE_PATH.lock``: held SHARED by every running bot, EXCLUSIVE by a restore."""

    def __init__(self, db_path: Path | str) -> None:
        self.path = Path(f"{db_path}.lock")
        self._fh: IO[str] | None = None

    def _open(self) -> IO[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return open(self.path, "a+", encoding="utf-8")

    def _take(self, mode: int) -> bool:
        fh = self._open()
        try:
            fcntl.flock(fh.fileno(), mode | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        self._fh = fh
        return True

    def acquire_shared(self) -> None:
        """For a bot: fails (BackupError ``restoring``) only while a restore runs."""
        if not self._take(fcntl.LOCK_SH):
            raise BackupError("restoring", f"a restore of this database is running ({self.path} is locked)")
        assert self._fh is not None
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"{os.getpid()}\n")  # the last bot to start: for the message of a refused restore
        self._fh.flush()

    def acquire_exclusive(self) -> None:
        """For a restore: fails (BackupError ``bot_running``) while any bot has the database open."""
        if not self._take(fcntl.LOCK_EX):
            pid = self.path.read_text(encoding="utf-8").strip() or "?"
            raise BackupError("bot_running", f"the bot is running on this database (pid {pid}, lock {self.path}): "
                                             "stop it, then restore")

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


# ----------------------------------------------------------------------------------- backup and restore

def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                       " AND name NOT LIKE 'sqlite_%' ORDER BY name")]


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in _tables(conn)}


def verify(path: Path | str) -> dict[str, int]:
    """``PRAGMA integrity_check`` and the row count of every table (raises BackupError)."""
    path = Path(path)
    if not path.is_file():
        raise BackupError("not_found", f"no such file: {path}")
    try:
        conn = _connect(path)
        try:
            result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                raise BackupError("integrity", f"{path} fails the integrity check: {'; '.join(result[:3])}")
            counts = _counts(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError("not_a_database", f"{path} is not an SQLite database ({exc})") from None
    if "schema_migrations" not in counts:
        raise BackupError("not_a_backup", f"{path} is not a Shagym database (no schema_migrations table)")
    return counts


def backup(db_path: Path | str, target: Path | str) -> BackupReport:
    """A consistent, verified copy of the (live) database at ``target``."""
    db_path, target = Path(db_path), Path(target)
    if not db_path.is_file():
        raise BackupError("not_found", f"no database at {db_path} (DATABASE_PATH)")
    if target.resolve() == db_path.resolve():
        raise BackupError("same_file", "the backup cannot be the database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    for leftover in (partial, *(Path(f"{partial}{s}") for s in SIDE_FILES)):
        leftover.unlink(missing_ok=True)
    started = time.perf_counter()
    source = _connect(db_path)
    try:
        source.execute("BEGIN")  # one read transaction: the counts and the copy see the same moment
        expected = _counts(source)
        copy = _connect(partial)
        try:
            source.backup(copy)  # all pages in one step, within the read transaction
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            copy.close()
        source.execute("COMMIT")
    finally:
        source.close()
    try:
        rows = verify(partial)
        if rows != expected:
            raise BackupError("count_mismatch", f"the copy's row counts differ from the database's: {rows} != "
                                                f"{expected}")
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return BackupReport(target, target.stat().st_size, time.perf_counter() - started, rows)


def restore(source: Path | str, db_path: Path | str) -> BackupReport:
    """Put the backup ``source`` in place of the database (no bot may be running)."""
    source, db_path = Path(source), Path(db_path)
    started = time.perf_counter()
    expected = verify(source)
    lock = RunLock(db_path)
    lock.acquire_exclusive()
    try:
        aside = Path(f"{db_path}.pre-restore")
        for suffix in ("", *SIDE_FILES):
            current = Path(f"{db_path}{suffix}")
            old = Path(f"{aside}{suffix}")
            old.unlink(missing_ok=True)
            if current.exists():
                os.replace(current, old)
        db_path.parent.mkdir(parents=True, exist_ok=True)
        src = _connect(source)
        try:
            dst = _connect(db_path)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=WAL")  # as the bot runs it
            finally:
                dst.close()
        finally:
            src.close()
        rows = verify(db_path)
        if rows != expected:
            raise BackupError("count_mismatch", f"the restored row counts differ from the backup's: {rows} != "
                                                f"{expected}")
    finally:
        lock.release()
    return BackupReport(db_path, db_path.stat().st_size, time.perf_counter() - started, rows)

"""The embedded Postgres (pgserver) a newcomer runs on when no database URL is configured."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from app.core.logging import get_logger

log = get_logger("app.db.embedded")

DATABASE_NAME = "registry"

# What keeps personal data out of the Postgres log: no DETAIL lines (a unique violation's DETAIL
# quotes the value, e.g. a username), no failing statement's text, no parameter values. The
# embedded server is set up with them; a production server should be too (README).
QUIET_LOG_SETTINGS = {
    "log_error_verbosity": "terse",
    "log_min_error_statement": "panic",
    "log_parameter_max_length_on_error": "0",
    "log_statement": "none",
}


class EmbeddedPostgres:
    """A pgserver instance in a persistent data directory, stopped when the process ends."""

    def __init__(self, pgdata: Path, database: str = DATABASE_NAME, *, delete: bool = False):
        self.pgdata = pgdata.resolve()
        self.database = database
        self.delete = delete
        self._server: Any = None

    def start(self) -> str:
        """Starts (or joins) the server, creates the database if missing; returns its URL."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver import postgres_server

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = postgres_server.get_server(
            self.pgdata, cleanup_mode="delete" if self.delete else "stop"
        )
        exists = self._server.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{self.database}';"  # noqa: S608
        )
        if "(1 row)" not in exists:
            self._server.psql(f'CREATE DATABASE "{self.database}";')
        for name, value in QUIET_LOG_SETTINGS.items():
            self._server.psql(f"ALTER SYSTEM SET {name} = '{value}';")
        self._server.psql("SELECT pg_reload_conf();")
        log.info("embedded_postgres_started", pgdata=str(self.pgdata))
        return self.url

    @property
    def log_path(self) -> Path:
        """The server's log file (pgserver starts it with ``pg_ctl -l``)."""
        return self.pgdata / "log"

    @property
    def socket_dir(self) -> str:
        uri = urlparse(self._server.get_uri())
        socket_dir: str = parse_qs(uri.query)["host"][0]
        return socket_dir

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
            log.info("embedded_postgres_stopped")


class EmbeddedStandby:
    """A hot standby streaming from an embedded primary over its Unix socket, made with pgserver's
    own binaries (``pg_basebackup -R``, a second server beside the first): to try the read
    replica (``REGISTRY_DATABASE_REPLICA_URL``) on one machine; the tests and ``make bench`` use
    it. Not for production, where the replica is a server of its own."""

    def __init__(self, primary: EmbeddedPostgres, pgdata: Path) -> None:
        from pgserver._commands import pg_basebackup  # type: ignore[attr-defined]

        server = primary._server
        assert server is not None, "the primary is started"
        self.primary = primary
        self.pgdata = pgdata.resolve()
        # pgserver runs Postgres as a user of its own when we are root.
        self.user: str | None = server.system_user
        self.pgdata.mkdir(mode=0o700, parents=True)
        if self.user is not None:
            import os
            import pwd

            account = pwd.getpwnam(self.user)
            os.chown(self.pgdata, account.pw_uid, account.pw_gid)
        pg_basebackup(
            [
                *("-D", str(self.pgdata)),
                "-R",  # standby.signal and primary_conninfo: a streaming replica
                *("-X", "stream", "-c", "fast"),
                *("-h", primary.socket_dir, "-U", "postgres"),
            ],
            user=self.user,
        )
        # The primary's socket directory is its data directory: its socket's lock file and its
        # log came along.
        for copied in [*self.pgdata.glob(".s.PGSQL.*"), self.log_path]:
            copied.unlink(missing_ok=True)

    @property
    def log_path(self) -> Path:
        return self.pgdata / "log"

    def url_for(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.pgdata}"

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(list(args), pgdata=self.pgdata, user=self.user)

    def start(self) -> None:
        """Starts it (listening on its own socket only), feeding back what it reads so that the
        primary keeps the rows a long export there still needs."""
        self._pg_ctl(
            "-w",
            "-o",
            '-h ""',
            "-o",
            f"-k {self.pgdata}",
            "-o",
            "-c hot_standby_feedback=on",
            "-l",
            str(self.log_path),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-w", "-m", mode, "stop")

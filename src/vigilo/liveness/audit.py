"""Audit storage of liveness frames: encrypted at rest, deleted after a TTL, deletable on request.

Off by default: without it a frame lives only in memory while it is analysed. With it, every frame a session
accepted is written as one Fernet token per file (`cryptography`'s Fernet: AES-128-CBC with an HMAC-SHA256
tag, so a tampered or truncated file is refused rather than decoded into garbage) under
`<dir>/<session_id>/<seq>-<captured_at>.frame`. Sequence number and capture time sit in the file name so a
listing needs no key; the image bytes never touch the disk in the clear.

Expiry is by the session folder's modification time (it changes with every frame written), checked at most
once a minute while frames arrive and whenever the audit API is used.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from vigilo.api.errors import ApiError
from vigilo.config.liveness import AuditConfig
from vigilo.liveness.tokens import load_or_create_secret

log = logging.getLogger(__name__)

KEY_FILE = "liveness-audit.key"
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")  # token_urlsafe ids; nothing that could leave the folder
_FRAME_NAME = re.compile(r"^(\d{1,12})-(\d{1,16})\.frame$")
_PURGE_EVERY_S = 60.0


@dataclass(frozen=True)
class AuditedFrame:
    seq: int
    captured_at: int  # epoch milliseconds, as the client sent it (rounded)
    size: int  # encrypted size on disk

    def to_json(self) -> dict[str, int]:
        return {"seq": self.seq, "captured_at": self.captured_at, "stored_bytes": self.size}


class FrameAudit:
    """Encrypted per-session frame folders with a TTL. Thread-safe for concurrent sessions."""

    def __init__(self, config: AuditConfig, data_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.ttl_s = config.ttl_hours * 3600.0
        self.root = Path(config.dir) if config.dir else data_dir / "liveness-audit"
        self.clock = clock
        keys = [k.get_secret_value() for k in config.keys] or [
            load_or_create_secret(None, data_dir, file_name=KEY_FILE, generate=lambda: Fernet.generate_key().decode())
        ]
        self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in keys])
        self._lock = threading.Lock()
        self._last_purge = 0.0
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    # ---- writing ---------------------------------------------------------------------------
    def save(self, session_id: str, seq: int, captured_at: float, data: bytes) -> None:
        folder = self._folder(session_id)
        folder.mkdir(exist_ok=True, mode=0o700)
        path = folder / f"{seq}-{round(captured_at)}.frame"
        token = self._fernet.encrypt(data)
        temporary = path.with_suffix(".part")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(token)
        temporary.replace(path)  # a reader never sees half a token
        self.purge_if_due()

    # ---- reading and deleting -------------------------------------------------------------------
    def frames(self, session_id: str) -> list[AuditedFrame]:
        self.purge_if_due()
        folder = self._folder(session_id)
        if not folder.is_dir():
            return []
        found = []
        for path in folder.iterdir():
            match = _FRAME_NAME.match(path.name)
            if match:
                found.append(AuditedFrame(int(match[1]), int(match[2]), path.stat().st_size))
        return sorted(found, key=lambda f: f.seq)

    def read(self, session_id: str, seq: int) -> bytes:
        """The frame's original bytes, decrypted."""
        self.purge_if_due()
        folder = self._folder(session_id)
        matches = sorted(folder.glob(f"{seq}-*.frame")) if folder.is_dir() else []
        if not matches:
            raise ApiError(404, "liveness_audit_frame_not_found", seq=seq)
        try:
            return self._fernet.decrypt(matches[0].read_bytes())
        except InvalidToken:
            # Another key, or a damaged file: say so rather than hand out garbage.
            raise ApiError(409, "liveness_audit_unreadable", seq=seq) from None

    def delete(self, session_id: str) -> int:
        """Removes every stored frame of the session; returns how many there were."""
        folder = self._folder(session_id)
        with self._lock:
            if not folder.is_dir():
                return 0
            count = sum(1 for p in folder.iterdir() if _FRAME_NAME.match(p.name))
            shutil.rmtree(folder, ignore_errors=True)
        log.info("audit frames deleted: %d", count)
        return count

    def expires_at(self, session_id: str) -> float | None:
        folder = self._folder(session_id)
        return folder.stat().st_mtime + self.ttl_s if folder.is_dir() else None

    # ---- expiry ------------------------------------------------------------------------------
    def purge_if_due(self) -> int:
        now = self.clock()
        with self._lock:
            if now - self._last_purge < _PURGE_EVERY_S:
                return 0
            self._last_purge = now
        return self.purge(now)

    def purge(self, now: float | None = None) -> int:
        """Deletes the folders of sessions whose last frame is older than the TTL; returns how many."""
        cutoff = (self.clock() if now is None else now) - self.ttl_s
        removed = 0
        for folder in self.root.iterdir():
            try:
                if folder.is_dir() and _SESSION_ID.match(folder.name) and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
            except FileNotFoundError:  # deleted meanwhile by another request
                continue
        if removed:
            log.info("audit: %d expired session folder(s) removed", removed)
        return removed

    def _folder(self, session_id: str) -> Path:
        if not _SESSION_ID.match(session_id):
            raise ApiError(404, "liveness_session_not_found")
        return self.root / session_id

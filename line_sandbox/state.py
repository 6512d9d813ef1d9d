"""The sandbox's whole world: channels, users, chats, tokens, rich menus, faults.

Everything lives in one JSON-serialisable dict guarded by a re-entrant lock, so
the threaded server can be hit concurrently (the app's tests do).  Binary
content (images users send, rich menu images) is kept base64-encoded so the
dict can be written as-is to the optional state file, which is rewritten
atomically after every change: a demo restart keeps its chats.

Callers never touch the dict without the lock: they use ``read()`` for a
consistent view and ``change()`` for a mutation followed by a save.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import secrets
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

# Parts of the state that are test tooling rather than "the LINE world":
# they are not written to the state file.
_TRANSIENT = ("requests", "faults")
_REQUEST_LOG_LIMIT = 2000


def _empty() -> dict:
    return {
        "channels": {},  # channel_id -> channel
        "login_channels": {},  # channel_id -> LINE Login channel
        "users": {},  # user_id -> LINE user
        "friends": {},  # channel_id -> {user_id: "friend" | "blocked"}
        "chats": {},  # channel_id -> {user_id: [timeline entries]}
        "sent": {},  # channel_id -> [messages the bot sent]
        "retry_keys": {},  # channel_id -> {retry key: acceptance}
        "requests": {},  # channel_id -> [API calls received]
        "reply_tokens": {},  # token -> {channel_id, user_id, issued_at, used}
        "contents": {},  # message_id -> content users sent
        "richmenus": {},  # channel_id -> {richMenuId: rich menu (+ image)}
        "richmenu_aliases": {},  # channel_id -> {alias id: richMenuId}
        "default_richmenu": {},  # channel_id -> richMenuId
        "user_richmenus": {},  # channel_id -> {user_id: richMenuId}
        "quota_usage": {},  # channel_id -> pushed message count
        "coupons": {},  # channel_id -> {couponId: coupon as created}
        "faults": [],  # queued fault injections
        "login_codes": {},  # authorization code -> grant
        "login_tokens": {},  # LINE Login access token -> grant
        "login_refresh": {},  # refresh token -> access token
        "sequence": 0,  # last message id handed out
    }


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_now() -> str:
    """The current UTC time as LINE writes it: 2020-09-30T05:38:20.031Z."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_user_id() -> str:
    """A LINE user id: "U" followed by 32 lowercase hex characters."""
    return "U" + secrets.token_hex(16)


def bot_user_id_for(channel_id: str) -> str:
    """A stable bot user id derived from the channel id."""
    return "U" + hashlib.md5(f"bot:{channel_id}".encode()).hexdigest()


def basic_id_for(channel_id: str) -> str:
    """A stable basic id in LINE's shape (@123abcde) derived from the channel id."""
    digest = hashlib.sha256(channel_id.encode()).hexdigest()
    digits = "".join(str(int(c, 16) % 10) for c in digest[:3])
    letters = "".join(chr(ord("a") + int(c, 16) % 26) for c in digest[3:8])
    return f"@{digits}{letters}"


class State:
    """The sandbox's in-memory state, optionally mirrored to a JSON file."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.lock = threading.RLock()
        self.path = Path(path) if path else None
        self.data = _empty()
        if self.path and self.path.exists():
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            self.data.update({k: v for k, v in loaded.items() if k in self.data})

    # -- locking -----------------------------------------------------------
    @contextmanager
    def read(self):
        """The state under the lock, for reading only."""
        with self.lock:
            yield self.data

    @contextmanager
    def change(self):
        """The state under the lock; saved to the state file afterwards."""
        with self.lock:
            yield self.data
            self.save()

    def save(self) -> None:
        if not self.path:
            return
        with self.lock:
            persisted = {k: v for k, v in self.data.items() if k not in _TRANSIENT}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".line_sandbox.", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(persisted, fh, ensure_ascii=False)
            os.replace(tmp, self.path)

    def reset(self) -> None:
        with self.change() as data:
            data.clear()
            data.update(_empty())

    def snapshot(self, *keys):
        """A deep copy of part of the state, safe to use outside the lock."""
        with self.read() as data:
            node = data
            for key in keys:
                node = node.get(key, {}) if isinstance(node, dict) else {}
            return copy.deepcopy(node)

    # -- identifiers -------------------------------------------------------
    def next_message_id(self) -> str:
        """A fresh 18-digit message id, increasing like LINE's."""
        with self.lock:
            candidate = now_ms() * 100000
            self.data["sequence"] = max(self.data["sequence"] + 1, candidate)
            return str(self.data["sequence"])

    # -- lookups (call with the lock held) -----------------------------------
    def channel_for_token(self, token: str) -> dict | None:
        for channel in self.data["channels"].values():
            if token and secrets.compare_digest(channel["channel_access_token"], token):
                return channel
        return None

    def friendship(self, channel_id: str, user_id: str) -> str | None:
        """"friend", "blocked" or None (never added)."""
        return self.data["friends"].get(channel_id, {}).get(user_id)

    def set_friendship(self, channel_id: str, user_id: str, status: str) -> None:
        self.data["friends"].setdefault(channel_id, {})[user_id] = status

    def chat(self, channel_id: str, user_id: str) -> list:
        return self.data["chats"].setdefault(channel_id, {}).setdefault(user_id, [])

    def richmenu_for(self, channel_id: str, user_id: str) -> dict | None:
        """The rich menu a user sees: their own link, else the channel default."""
        menus = self.data["richmenus"].get(channel_id, {})
        linked = self.data["user_richmenus"].get(channel_id, {}).get(user_id)
        if linked in menus:
            return menus[linked]
        default = self.data["default_richmenu"].get(channel_id)
        return menus.get(default)

    def log_request(self, channel_id: str, entry: dict) -> None:
        log = self.data["requests"].setdefault(channel_id, [])
        log.append(entry)
        del log[:-_REQUEST_LOG_LIMIT]

    def within_rate(self, channel_id: str, path: str, per_second: float) -> bool:
        """Count a call in this second's window; False once the channel made `per_second` of them."""
        key, second = (channel_id, path), int(time.time())
        with self.lock:
            windows = self.__dict__.setdefault("_rate_windows", {})
            start, count = windows.get(key, (second, 0))
            if start != second:
                start, count = second, 0
            windows[key] = (start, count + 1)
            return count < per_second

    def take_fault(self, method: str, path: str) -> dict | None:
        """Consume the first queued fault matching this request, if any."""
        from fnmatch import fnmatchcase

        with self.lock:
            for fault in self.data["faults"]:
                if fault.get("method") and fault["method"].upper() != method.upper():
                    continue
                if fault["path"] != path and not fnmatchcase(path, fault["path"]):
                    continue
                fault["times"] -= 1
                if fault["times"] <= 0:
                    self.data["faults"].remove(fault)
                return dict(fault)
        return None

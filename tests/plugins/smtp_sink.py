"""Pytest plugin: a local SMTP server (aiosmtpd) that keeps what it receives.

``smtp_sink`` - emptied before the test: ``.port``, ``.messages`` (parsed
email.message.EmailMessage objects, with ``.envelope_to``).  Point SMTP_HOST /
SMTP_PORT at it (``smtp_sink.configure(app, monkeypatch)``).
"""
import socket
import threading
from email import message_from_bytes, policy

import pytest


class SmtpSink:
    def __init__(self):
        self.messages = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        message.envelope_to = list(envelope.rcpt_tos)
        with self._lock:
            self.messages.append(message)
        return "250 OK"

    def clear(self):
        with self._lock:
            self.messages.clear()

    def to(self, address):
        return [m for m in self.messages if address in m.envelope_to]

    def configure(self, app, monkeypatch):
        monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
        monkeypatch.setitem(app.config, "SMTP_PORT", self.port)
        monkeypatch.setitem(app.config, "SMTP_STARTTLS", False)
        monkeypatch.setitem(app.config, "SMTP_USER", None)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def _smtp_server():
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    sink.port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def smtp_sink(_smtp_server):
    _smtp_server.clear()
    yield _smtp_server
    _smtp_server.clear()

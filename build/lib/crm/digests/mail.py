"""Email through SMTP (SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_FROM, SMTP_STARTTLS)."""
import smtplib
from contextlib import contextmanager

from flask import current_app


class MailError(Exception):
    """The message could not be handed to the SMTP server."""


class _Connection:
    """One SMTP session for many messages, opened on the first one, reopened once if the server hung up."""

    def __init__(self, config):
        self.config = config
        self.smtp = None

    def _open(self):
        config = self.config
        smtp = smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=config["SMTP_TIMEOUT"])
        if config.get("SMTP_STARTTLS"):
            smtp.starttls()
        if config.get("SMTP_USER"):
            smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
        self.smtp = smtp

    def send(self, message):
        if "From" not in message:
            message["From"] = self.config["SMTP_FROM"]
        for attempt in (1, 2):
            try:
                if self.smtp is None:
                    self._open()
                self.smtp.send_message(message)
                return
            except smtplib.SMTPServerDisconnected as exc:
                self.smtp = None
                if attempt == 2:
                    raise MailError(f"SMTP: {exc}") from exc
            except (smtplib.SMTPException, OSError) as exc:
                self.close()
                raise MailError(f"SMTP: {type(exc).__name__}: {exc}") from exc

    def close(self):
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.smtp = None


@contextmanager
def connection():
    conn = _Connection(current_app.config)
    try:
        yield conn
    finally:
        conn.close()

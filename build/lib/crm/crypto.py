"""Encryption at rest for channel credentials (Fernet, keys from configuration)."""
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


def _fernet():
    # CREDENTIALS_KEYS: comma-separated Fernet keys, newest first, so keys can rotate.
    keys = [k.strip() for k in (current_app.config.get("CREDENTIALS_KEYS") or "").split(",") if k.strip()]
    if not keys:
        raise RuntimeError("CREDENTIALS_KEYS is not configured")
    return MultiFernet([Fernet(k) for k in keys])


class EncryptedText(sa.types.TypeDecorator):
    """Text encrypted with the app's credentials key before it reaches the database."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return _fernet().encrypt(value.encode()).decode()

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        try:
            return _fernet().decrypt(value.encode()).decode()
        except InvalidToken as exc:
            raise RuntimeError("stored credential cannot be decrypted with CREDENTIALS_KEYS") from exc

"""Password hashing with Argon2id (argon2-cffi), rehashing when parameters change."""
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

MIN_PASSWORD_LENGTH = 10

_default = PasswordHasher()
# The test suite hashes hundreds of passwords; production parameters would
# dominate its run time without testing anything more.
_fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _hasher():
    return _fast if current_app.config.get("PASSWORD_HASH_FAST") else _default


def hash_password(password):
    """Hash a password for storage."""
    return _hasher().hash(password)


def verify_password(stored_hash, password):
    """True when the password matches the stored hash."""
    if not stored_hash:
        return False
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash):
    """True when the stored hash was made with older parameters."""
    return _hasher().check_needs_rehash(stored_hash)

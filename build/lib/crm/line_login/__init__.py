"""LINE Login (OpenID Connect authorization-code flow) for pages customers open.

`flow.begin()` keeps a fresh state and nonce in the session and returns the
authorize URL; `flow.finish()` checks the state (single use), exchanges the
code and verifies the ID token (signature with the login channel secret,
issuer, audience, expiry, nonce).  Nothing is stored in the database here:
callers decide what a verified LINE user means to them.
"""

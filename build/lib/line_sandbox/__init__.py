"""The LINE sandbox: a local stand-in for the LINE platform.

One Flask app serves what LINE serves on api.line.me / api-data.line.me
(the Messaging API), access.line.me and api.line.me/oauth2 (LINE Login), plus
a phone-like page where a developer acts as a LINE user (``/phone``) and a
control API for tests (``/_sandbox``).  See README.md beside this file.

    from line_sandbox import create_app
    app = create_app()                       # in memory
    app = create_app("var/line_sandbox.json")  # kept across restarts
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, redirect, url_for

from .schema import SpecValidator, spec_dir, validator_for_file
from .state import State

__all__ = ["create_app", "Sandbox"]


class SpecMissing(FileNotFoundError):
    """LINE's OpenAPI files are not where the sandbox was told to look."""


@dataclass
class Sandbox:
    """What the blueprints share: the world and the spec validator."""

    state: State
    messaging_spec: SpecValidator
    spec_dir: Path


def create_app(state_path: str | os.PathLike | None = None, spec_directory: str | os.PathLike | None = None) -> Flask:
    """The sandbox app; state in memory, mirrored to ``state_path`` when given.

    LINE's OpenAPI documents are read from ``spec_directory``, else
    $LINE_SPEC_DIR, else the copies shipped in ``line_sandbox/spec/``.
    """
    from . import api, content, control, login, messaging, phone, richmenu

    directory = Path(spec_directory) if spec_directory else spec_dir()
    spec_file = directory / "messaging-api.yml"
    if not spec_file.is_file():
        raise SpecMissing(f"LINE's messaging-api.yml is not at {spec_file}: set LINE_SPEC_DIR to the folder that has it")
    app = Flask(__name__)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["line_sandbox"] = Sandbox(
        state=State(state_path), messaging_spec=validator_for_file(str(spec_file)), spec_dir=directory
    )
    api.register(app)
    for module in (messaging, content, richmenu, login, control, phone):
        app.register_blueprint(module.bp)

    @app.get("/")
    def index():
        return redirect(url_for("phone.page"))

    return app

"""Serves front-end packages installed from the npm registry (see package.json)."""
from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory

blueprint = Blueprint("assets", __name__)

# Only these files of node_modules are served; everything else stays private.
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
}


@blueprint.get("/vendor/<path:name>")
def vendor(name):
    """A pinned third-party front-end file, installed by `npm ci`."""
    relative = VENDOR_FILES.get(name)
    if relative is None:
        abort(404)
    root = Path(current_app.config["NODE_MODULES_DIR"])
    if not (root / relative).is_file():
        current_app.logger.error("front-end file %s missing: run `npm ci`", relative)
        abort(404)
    return send_from_directory(root, relative, max_age=60 * 60 * 24)

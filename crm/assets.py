"""Front-end packages from the npm registry (see package.json), served from the package's static/vendor/.

`npm ci` installs them into node_modules; `python -m crm.assets` (run by bin/setup)
copies the few files the app serves into crm/static/vendor/, which is not in git
but ships in the wheel, so an installed package serves them without node_modules.
"""
import shutil
import sys
from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory

blueprint = Blueprint("assets", __name__)

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
NODE_MODULES_DIR = Path(__file__).resolve().parent.parent / "node_modules"

# Served name -> its file in node_modules; nothing else of node_modules is copied.
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
}


def missing_message(name):
    """The one line telling an operator how to get a missing front-end file."""
    return f"front-end file {name} is missing from {VENDOR_DIR}: run bin/setup (npm ci, then python -m crm.assets)"


@blueprint.get("/vendor/<path:name>")
def vendor(name):
    """A pinned third-party front-end file."""
    if name not in VENDOR_FILES:
        abort(404)
    if not (VENDOR_DIR / name).is_file():
        current_app.logger.error(missing_message(name))
        abort(404)
    return send_from_directory(VENDOR_DIR, name, max_age=60 * 60 * 24)


def copy_vendor_files(node_modules=NODE_MODULES_DIR, target=VENDOR_DIR):
    """Copy the served files from node_modules into the package; returns the names copied."""
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name, relative in VENDOR_FILES.items():
        source = Path(node_modules) / relative
        if not source.is_file():
            raise FileNotFoundError(f"{source} is missing: run `npm ci` first")
        shutil.copyfile(source, target / name)
        copied.append(name)
    return copied


def main() -> None:
    """bin/setup's step: copy the pinned front-end files, or say in one line what is missing."""
    try:
        copy_vendor_files()
    except FileNotFoundError as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()

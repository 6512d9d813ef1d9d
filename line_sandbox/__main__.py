"""Run the LINE sandbox: python -m line_sandbox --host 127.0.0.1 --port 5100 [--state FILE]."""
from __future__ import annotations

import argparse

from werkzeug.serving import WSGIRequestHandler, run_simple

from . import SpecMissing, create_app


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m line_sandbox", description="A local stand-in for LINE.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5100)
    parser.add_argument("--state", help="JSON file the state is kept in across restarts (e.g. var/line_sandbox.json)")
    parser.add_argument("--spec-dir", help="where LINE's OpenAPI files are (default: $LINE_SPEC_DIR, else line_sandbox/spec)")
    args = parser.parse_args(argv)
    try:
        app = create_app(args.state, args.spec_dir)
    except SpecMissing as error:
        raise SystemExit(f"line_sandbox: {error}") from None
    print(f"LINE sandbox on http://{args.host}:{args.port}  (phone: /phone, control: /_sandbox)", flush=True)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False, use_debugger=False,
               request_handler=KeepAliveHandler)


class KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1: a client (line-bot-sdk's urllib3 pool) keeps its connection, as with LINE."""

    protocol_version = "HTTP/1.1"


if __name__ == "__main__":
    main()

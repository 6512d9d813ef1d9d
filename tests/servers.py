"""One way to serve a WSGI app from a thread in tests: the LINE sandbox, the browser tests' live servers."""
from __future__ import annotations

import threading

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietRequestHandler(WSGIRequestHandler):
    """No access log per request; errors are still logged."""

    def log_request(self, code="-", size="-"):
        pass


class ServerThread:
    """A threaded werkzeug server on 127.0.0.1:<free port>; the port is bound at once, served after start()."""

    def __init__(self, app, name: str | None = None, quiet: bool = False):
        handler = _QuietRequestHandler if quiet else WSGIRequestHandler
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name=name or f"server {self.url}",
                                       daemon=True)

    def start(self) -> ServerThread:
        """Start serving; returns self."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(timeout=10)
        self.server.server_close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

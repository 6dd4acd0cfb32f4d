"""The baseline: bare Flask answering every request with a fixed JSON body.

Served by gunicorn with the same config file and worker settings as the app, it shows
what the server, WSGI and Flask cost on this machine for a response of the same size,
so the app's numbers can be read as a ratio to it. Set by bench/run.py per endpoint:

- ``BENCH_BODY_BYTES``: the size of the JSON body (the app's response measured in the
  same run);
- ``BENCH_STATUS``: the status of a non-conditional answer (200; 201 for the POST);
- ``BENCH_ETAG``: the app's ETag for the 304 run. With it, the baseline answers
  ``If-None-Match`` the way the app does (Werkzeug's ``make_conditional``), so the 304
  baseline is bare Flask revalidating a body of the same size.

Any path and method is answered; a request body is parsed as JSON, as the app would.
"""

from __future__ import annotations

import json
import os

from flask import Flask, Response, request

# The padding is plain ASCII: one byte per character, so the body has exactly the size.
_OVERHEAD = len(json.dumps({"data": ""}, separators=(",", ":")))


def make_body(size: int) -> bytes:
    body = json.dumps({"data": "x" * max(0, size - _OVERHEAD)}, separators=(",", ":"))
    return body.encode()


def create_app() -> Flask:
    app = Flask(__name__, static_folder=None)
    body = make_body(int(os.environ.get("BENCH_BODY_BYTES", "1024")))
    status = int(os.environ.get("BENCH_STATUS", "200"))
    etag = os.environ.get("BENCH_ETAG", "").strip('"')

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
    @app.route("/<path:path>", methods=["GET", "POST"])
    def answer(path: str) -> Response:
        if request.method == "POST":
            request.get_json(silent=True)
        response = Response(body, status=status, mimetype="application/json")
        if etag and request.method == "GET":
            response.set_etag(etag)
            return response.make_conditional(request)
        return response

    return app

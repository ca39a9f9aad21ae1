#!/usr/bin/env python3
"""A CRM for showroom's tests: receives handoffs and checks them with the reference
Standard Webhooks library (PyPI `standardwebhooks`), not with showroom's own code, and
against the published JSON Schema (docs/handoff.schema.json).

    python3 tests/crm/receiver.py --secret whsec_… [--schema docs/handoff.schema.json]

Prints `listening on PORT` once ready. Endpoints:

- `POST /hooks`       a handoff. Answers as the current mode says (200 by default);
                      a bad signature gets 401 whatever the mode.
- `GET  /received`    every attempt so far, oldest first: webhook_id, verified,
                      status answered, schema_errors, body (parsed), body_sha256
                      (of the exact bytes), at (seconds since the epoch).
- `POST /mode`        `{"status": 503, "retry_after": "2", "delay": 0.5}`: how to
                      answer the next attempts (delay = seconds before answering).
"""

import argparse
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

try:
    import jsonschema
except ImportError:  # the schema check is skipped, and says so
    jsonschema = None


class State:
    def __init__(self, secret, schema):
        self.webhook = Webhook(secret)
        self.schema = schema
        self.lock = threading.Lock()
        self.received = []
        self.mode = {"status": 200, "retry_after": None, "delay": 0}


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body=b"", headers=None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def body(self):
            length = int(self.headers.get("content-length") or 0)
            return self.rfile.read(length)

        def do_GET(self):
            if self.path != "/received":
                return self.reply(404)
            with state.lock:
                data = json.dumps(state.received).encode()
            self.reply(200, data, {"content-type": "application/json"})

        def do_POST(self):
            raw = self.body()
            if self.path == "/mode":
                with state.lock:
                    state.mode.update(json.loads(raw or b"{}"))
                return self.reply(204)
            if self.path != "/hooks":
                return self.reply(404)
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                state.webhook.verify(raw, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            errors = []
            if state.schema is not None and jsonschema is not None and parsed is not None:
                validator = jsonschema.Draft202012Validator(state.schema)
                errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(parsed)]
            elif state.schema is not None:
                errors = ["jsonschema is not installed"]
            with state.lock:
                mode = dict(state.mode)
            if mode.get("delay"):
                time.sleep(float(mode["delay"]))
            status = 200 if verified else 401
            if verified and mode.get("status"):
                status = int(mode["status"])
            with state.lock:
                state.received.append(
                    {
                        "webhook_id": headers.get("webhook-id"),
                        "timestamp": headers.get("webhook-timestamp"),
                        "verified": verified,
                        "status": status,
                        "schema_errors": errors,
                        "body": parsed,
                        "body_sha256": hashlib.sha256(raw).hexdigest(),
                        "at": time.time(),
                    }
                )
            extra = {}
            if status != 200 and mode.get("retry_after") is not None:
                extra["retry-after"] = str(mode["retry_after"])
            self.reply(status, b"{}", {"content-type": "application/json", **extra})

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--secret", required=True)
    parser.add_argument("--schema")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    schema = None
    if args.schema:
        with open(args.schema) as f:
            schema = json.load(f)
    state = State(args.secret, schema)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(state))
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""An OTLP/HTTP sink for the benchmark: accepts every export (POST /v1/traces), counts it, answers 200.

Usage: otlp_sink.py PORT COUNT_FILE. On SIGTERM it writes "<exports> <bytes>" to COUNT_FILE and exits.
It does not decode the spans: the benchmark measures the service's cost of making and sending them.
"""
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

exports = 0
received = 0


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (the standard library's name)
        global exports, received
        length = int(self.headers.get("Content-Length", "0"))
        received += len(self.rfile.read(length))
        exports += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_):
        pass


def main():
    port, count_file = int(sys.argv[1]), sys.argv[2]
    server = ThreadingHTTPServer(("127.0.0.1", port), Sink)

    def stop(*_):
        with open(count_file, "w") as out:
            out.write(f"{exports} {received}\n")
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()


if __name__ == "__main__":
    main()

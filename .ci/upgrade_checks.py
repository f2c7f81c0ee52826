"""Upgrades without downtime, checked with real binaries on a fresh PostgreSQL database (docs/operations.md,
"Upgrades without downtime"):

1. mixed versions: the new binary's `migrate`, then the previous release and the new release serving the same
   database at the same time; reads and writes through both, each reading what the other wrote (profiles,
   If-Match across them, addresses and their revisions, preferences, a service read, erasure);
2. a rolling restart under load: two new instances behind a small round-robin balancer that, like a Kubernetes
   Service, sends new connections only to instances whose /health/ready answers 200; wrk runs against it while
   each instance in turn is stopped with SIGTERM (SHUTDOWN_DELAY_SECONDS drains it) and started again. Zero
   non-2xx answers and zero socket errors are required.

    python upgrade_checks.py --old OLD_BINARY --new NEW_BINARY --database-url postgres://.../db

Needs wrk. Only the standard library.
"""

import argparse
import asyncio
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

SECRET = "upgrade-checks-secret-0123456789abcdefghijkl"
failures = []


def check(passed, what):
    print(f"  {'ok  ' if passed else 'FAIL'} {what}")
    if not passed:
        failures.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Instance:
    """One `serve` process of a binary on a port of its own, logging to a file."""

    def __init__(self, label, binary, database_url, workdir, **env):
        self.label, self.binary, self.port = label, binary, free_port()
        self.workdir = Path(workdir) / label
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "APP_ENV": "development",
            "HOST": "127.0.0.1",
            "DATA_DIR": str(self.workdir),
            "DATABASE_URL": database_url,
            "JWT_SECRET": SECRET,
            "RUN_MIGRATIONS": "false",
            "LOG_FORMAT": "json",
            "RUST_LOG": "warn",
            **env,
        }
        self.process = None

    def start(self):
        log = open(self.workdir / "serve.log", "ab")
        self.process = subprocess.Popen([self.binary, "serve"], env={**self.env, "PORT": str(self.port)},
                                        cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} exited during start-up: see {self.workdir / 'serve.log'}")
            try:
                if request(self.port, "GET", "/health/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.label} was not ready within 60 s")

    def stop(self, sig=signal.SIGTERM):
        self.process.send_signal(sig)
        return self.process.wait(timeout=60)


def request(port, method, path, token=None, body=None, headers=None):
    """(status, headers with lower-case names, parsed JSON body or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    parsed = json.loads(raw) if raw and "json" in response.getheader("content-type", "") else None
    return response.status, {k.lower(): v for k, v in response.getheaders()}, parsed


def mint(binary, sub, *args):
    env = {"PATH": os.environ.get("PATH", ""), "JWT_SECRET": SECRET, "APP_ENV": "development",
           "DATA_DIR": tempfile.gettempdir()}
    return subprocess.run([binary, "token", "--sub", sub, *args], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def mixed_versions(old_bin, new_bin, database_url, workdir):
    started = time.monotonic()
    print("Mixed versions: the previous release and this one on one database")
    migrate = subprocess.run([new_bin, "migrate"], env={"PATH": os.environ.get("PATH", ""),
                             "DATABASE_URL": database_url, "JWT_SECRET": SECRET, "DATA_DIR": str(workdir)},
                             capture_output=True, text=True)
    check(migrate.returncode == 0, f"the new binary's `migrate` applied its migrations {migrate.stderr.strip()}")
    old = Instance("old", old_bin, database_url, workdir)
    new = Instance("new", new_bin, database_url, workdir)
    old.start()
    new.start()
    try:
        mixed_version_traffic(old.port, new.port, new_bin)
    finally:
        for instance in (old, new):
            check(instance.stop() == 0, f"{instance.label} stopped with status 0 on SIGTERM")
    print(f"mixed versions: {time.monotonic() - started:.1f} s")


def mixed_version_traffic(old, new, new_bin):
    user = mint(new_bin, "upgrade-user-1")
    service = mint(new_bin, "order-service", "--role", "service")
    me = "/api/v1/profiles/me"

    status, head, _ = request(old, "PUT", me, user, {"email": "mixed@example.com", "display_name": "Mixed"})
    check(status == 201 and head.get("etag") == '"1"', f"PUT profile through the old release: {status}")
    status, head, body = request(new, "GET", me, user)
    check(status == 200 and body["email"] == "mixed@example.com" and head.get("etag") == '"1"',
          f"the new release reads it: {status} {head.get('etag')}")
    patch = {"Content-Type": "application/merge-patch+json", "If-Match": '"1"'}
    status, head, _ = request(new, "PATCH", me, user, {"display_name": "Mixed 2"}, patch)
    check(status == 200 and head.get("etag") == '"2"', f"PATCH If-Match \"1\" through the new release: {status}")
    status, head, _ = request(old, "PATCH", me, user, {"display_name": "stale"}, patch)
    check(status == 412, f"the old release refuses the stale If-Match \"1\" with 412: {status}")
    status, head, body = request(old, "GET", me, user)
    check(status == 200 and body["display_name"] == "Mixed 2" and head.get("etag") == '"2"',
          f"the old release reads the new release's write: {status} {head.get('etag')}")

    address = {"recipient_name": "Ada Lovelace", "line1": "10 Downing Street", "city": "London",
               "postal_code": "SW1A 2AA", "country": "GB"}
    status, _, created = request(new, "POST", f"{me}/addresses", user, address)
    check(status == 201 and created["revision"] == 1, f"POST address through the new release: {status}")
    address_id = created["id"]
    status, _, listed = request(old, "GET", f"{me}/addresses", user)
    check(status == 200 and [a["id"] for a in listed["items"]] == [address_id],
          f"the old release lists it: {status}")
    status, head, revised = request(old, "PATCH", f"{me}/addresses/{address_id}", user, {"line2": "Flat 1"},
                                    {"Content-Type": "application/merge-patch+json", "If-Match": '"1"'})
    check(status == 200 and head.get("etag") == '"2"', f"PATCH the address through the old release: {status}")
    status, _, body = request(new, "GET", f"/api/v1/users/upgrade-user-1/addresses/{address_id}/revisions/1",
                              service)
    check(status == 200 and body.get("line2") is None, f"the new release serves revision 1 to a service: {status}")
    status, _, body = request(new, "GET", f"{me}/addresses/{address_id}", user)
    check(status == 200 and body["line2"] == "Flat 1" and body["revision"] == 2,
          f"the new release reads revision 2: {status}")

    status, _, _ = request(old, "PATCH", f"{me}/preferences", user, {"currency": "EUR"},
                           {"Content-Type": "application/merge-patch+json"})
    check(status == 200, f"PATCH preferences through the old release: {status}")
    status, _, body = request(new, "GET", "/api/v1/users/upgrade-user-1/preferences", service)
    check(status == 200 and body["currency"] == "EUR", f"the new release serves them to a service: {status}")

    status, _, _ = request(new, "DELETE", me, user)
    check(status == 204, f"erasure through the new release: {status}")
    status, _, body = request(old, "GET", me, user)
    check(status == 404, f"the old release no longer finds the profile: {status}")
    status, _, _ = request(old, "PUT", me, user, {"email": "mixed@example.com", "display_name": "Again"})
    check(status == 201, f"the email is free again, through the old release: {status}")


# -- rolling restart -----------------------------------------------------------------------------------------------


class Balancer:
    """Round-robin over the backends whose /health/ready answered 200 at the last poll (every 100 ms), one backend
    per client connection, as a Kubernetes Service routes new connections to ready endpoints. A backend that
    refuses the connection is skipped for the next one, as load balancers retry a failed connect (nothing has
    been sent yet); `retried` counts those."""

    def __init__(self, backends):
        self.backends = list(backends)
        self.ready = {port: True for port in self.backends}
        self.connections = Counter()
        self.retried = 0
        self.refused = 0
        self.turn = 0
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_until_complete, args=(self.main(),), daemon=True).start()

    async def main(self):
        server = await asyncio.start_server(self.handle, "127.0.0.1", self.port, backlog=1024)
        async with server:
            await asyncio.gather(server.serve_forever(), self.poll())

    async def poll(self):
        while True:
            for port in self.backends:
                self.ready[port] = await self.probe(port)
            await asyncio.sleep(0.1)

    @staticmethod
    async def probe(port):
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 0.5)
            writer.write(b"GET /health/ready HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n")
            line = await asyncio.wait_for(reader.readline(), 2)
            writer.close()
            return line.startswith(b"HTTP/1.1 200")
        except (OSError, asyncio.TimeoutError):
            return False

    async def handle(self, client_reader, client_writer):
        ready = [p for p in self.backends if self.ready[p]] or self.backends
        self.turn += 1
        order = ready[self.turn % len(ready):] + ready[:self.turn % len(ready)]
        order += [p for p in self.backends if p not in order]
        for attempt, port in enumerate(order):
            try:
                backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                self.retried += 1
        else:
            self.refused += 1
            client_writer.close()
            return
        self.connections[port] += 1
        to_backend = asyncio.ensure_future(self.pipe(client_reader, backend_writer))
        to_client = asyncio.ensure_future(self.pipe(backend_reader, client_writer))
        await asyncio.wait([to_backend, to_client], return_when=asyncio.FIRST_COMPLETED)
        for task in (to_backend, to_client):
            task.cancel()
        for writer in (backend_writer, client_writer):
            writer.close()

    @staticmethod
    async def pipe(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass


WRK_SCRIPT = r"""
-- Each wrk thread has its own user: 9 reads of the profile, then a PATCH of its display name.
local tokens = {}
for t in string.gmatch(os.getenv("UPGRADE_TOKENS"), "[^,]+") do table.insert(tokens, t) end
local counter = 0
function setup(thread) thread:set("tid", counter); counter = counter + 1 end
local k = 0
request = function()
  k = k + 1
  local auth = "Bearer " .. tokens[(tid or 0) + 1]
  if k % 10 == 0 then
    return wrk.format("PATCH", "/api/v1/profiles/me", {["Authorization"] = auth,
      ["Content-Type"] = "application/merge-patch+json"}, '{"display_name":"rolling ' .. k .. '"}')
  end
  return wrk.format("GET", "/api/v1/profiles/me", {["Authorization"] = auth})
end
function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d non2xx=%d connect=%d read=%d write=%d timeout=%d p99_ms=%.1f\n",
    summary.requests, summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, latency:percentile(99) / 1000))
end
"""


def rolling_restart(new_bin, database_url, workdir, seconds, delay):
    started = time.monotonic()
    print(f"Rolling restart under load: two instances, SHUTDOWN_DELAY_SECONDS={delay}, wrk for {seconds} s")
    instances = [Instance(f"rolling-{i}", new_bin, database_url, workdir, SHUTDOWN_DELAY_SECONDS=str(delay))
                 for i in (1, 2)]
    for instance in instances:
        instance.start()
    users = [f"rolling-user-{i}" for i in (1, 2)]
    tokens = [mint(new_bin, u) for u in users]
    for token, user in zip(tokens, users):
        request(instances[0].port, "PUT", "/api/v1/profiles/me", token,
                {"email": f"{user}@example.com", "display_name": user})
    balancer = Balancer([i.port for i in instances])
    script = Path(workdir) / "rolling.lua"
    script.write_text(WRK_SCRIPT)
    wrk = subprocess.Popen(["wrk", "-t2", "-c8", f"-d{seconds}s", "--timeout", "5s", "-s", str(script),
                            f"http://127.0.0.1:{balancer.port}/"], env={**os.environ, "UPGRADE_TOKENS": ",".join(tokens)},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(3)
        for instance in instances:
            t0 = time.monotonic()
            status = instance.stop()
            stopped = time.monotonic() - t0
            instance.start()
            print(f"  {instance.label}: SIGTERM -> exit {status} in {stopped:.1f} s, "
                  f"ready again {time.monotonic() - t0:.1f} s after the signal")
            check(status == 0, f"{instance.label} exited 0 after draining")
            time.sleep(2)
        check(wrk.poll() is None, "wrk was still running after both restarts (the restarts happened under load)")
        output, _ = wrk.communicate(timeout=seconds + 60)
    finally:
        for instance in instances:
            if instance.process.poll() is None:
                instance.stop()
        if wrk.poll() is None:
            wrk.kill()
    result = re.search(r"RESULT (.*)", output)
    if not result:
        check(False, f"wrk printed no RESULT line:\n{output}")
        return
    figures = dict(pair.split("=") for pair in result.group(1).split())
    print(f"  wrk: {result.group(1)}; balancer: connections per instance {dict(balancer.connections)}, "
          f"connects retried on a closed port {balancer.retried}, refused {balancer.refused}")
    check(int(figures["requests"]) > 0, f"{figures['requests']} requests answered during the restarts")
    check(figures["non2xx"] == "0", f"no non-2xx answer ({figures['non2xx']})")
    errors = sum(int(figures[k]) for k in ("connect", "read", "write", "timeout"))
    check(errors == 0, f"no socket error (connect {figures['connect']}, read {figures['read']}, "
                       f"write {figures['write']}, timeout {figures['timeout']})")
    check(balancer.refused == 0, "no client connection refused by the balancer")
    print(f"rolling restart: {time.monotonic() - started:.1f} s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", required=True)
    parser.add_argument("--new", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--delay", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ups-upgrade-") as workdir:
        try:
            mixed_versions(args.old, args.new, args.database_url, workdir)
            rolling_restart(args.new, args.database_url, workdir, args.seconds, args.delay)
        except Exception as err:
            check(False, f"{type(err).__name__}: {err}")
            for log in Path(workdir).rglob("serve.log"):
                print(f"--- {log}\n{log.read_text()[-3000:]}")
    if failures:
        print(f"upgrade checks: {len(failures)} failed")
        return 1
    print("upgrade checks: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Formats the harness's lines as Markdown: the table of RESULT lines, the resident memory of the service
(RSS lines), and the ratios the targets are stated in, all from this one run.

Arguments: PROFILES DURATION CONNS USERS LINE..., each LINE one of
  `TARGET SCENARIO RESULT rps=N p50_ms=X p99_ms=X errors=N non2xx=N`
  `RSS TARGET WHEN KB` (WHEN: idle, mix, or get_me@CONNECTIONS; KB: the peak VmRSS in kB)."""
import os, platform, re, sys


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration):
        mem_kb = 0
    return f"{os.cpu_count()} cores ({model}), {mem_kb // 1024 // 1024} GiB, Linux {platform.release()}"


def main() -> None:
    profiles, duration, conns, users, *rows = sys.argv[1:]
    results = {}
    rss = {}  # target -> {when: kB}
    missing = []  # "target scenario" of loads whose wrk printed no RESULT line
    for row in rows:
        m = re.match(r"(\S+) (\S+) RESULT rps=(\d+) p50_ms=([\d.]+) p99_ms=([\d.]+) errors=(\d+) non2xx=(\d+)", row)
        if m:
            target, scenario, rps, p50, p99, errors, non2xx = m.groups()
            results[(target, scenario)] = (int(rps), float(p50), float(p99), int(errors) + int(non2xx))
        m = re.match(r"RSS (\S+) (\S+) (\d+)$", row)
        if m:
            rss.setdefault(m.group(1), {})[m.group(2)] = int(m.group(3))
        m = re.match(r"(\S+) (\S+) NO-RESULT$", row)
        if m:
            missing.append(f"{m.group(1)} {m.group(2)}")
    print(f"Machine: {machine()}; load generator wrk on the same machine, {conns} connections, 2 threads,")
    print(f"{duration} per scenario, tokens rotating over {users} users, {int(profiles):,} profiles seeded.")
    if any(re.search(r"-x\d+$", t) for t, _ in results):
        print("-xN targets: N service instances on one database and one Redis, N wrk processes at once (1 thread,")
        print(f"{conns}/N connections each, one per instance): requests/s summed, p50 and p99 the larger of the")
        print("N processes' figures (percentiles of separate runs cannot be merged), errors summed.")
    if any("@" in s for _, s in results):
        print("get_me@N: the connection sweep, N connections, 2 threads, wrk --timeout 10s (a slow answer counts")
        print("as latency, not as a timeout); wrk's socket errors (connect, read, write, timeout) count as errors.")
    for row in missing:
        print(f"NO RESULT (wrk failed): {row}")
    print()
    print("| target | scenario | requests/s | p50 ms | p99 ms | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for (target, scenario), (rps, p50, p99, errors) in results.items():
        print(f"| {target} | {scenario} | {rps:,} | {p50:.2f} | {p99:.2f} | {errors} |")

    if rss:
        sweeps = sorted({int(w.split("@")[1]) for r in rss.values() for w in r if w.startswith("get_me@")})
        largest = f"get_me@{sweeps[-1]}" if sweeps else None
        mib = lambda r, when: f"{r[when] / 1024:.1f}" if when in r else "-"
        print("\nResident memory of the service process (VmRSS; peaks sampled every 100 ms; -xN: one row per"
              " instance):\n")
        header = "| target | idle RSS MiB | mix peak RSS MiB |"
        if largest:
            header += f" {sweeps[-1]:,}-conn peak RSS MiB |"
        print(header)
        print("| --- " + "| ---: " * (header.count("|") - 2) + "|")
        for target, r in rss.items():
            line = f"| {target} | {mib(r, 'idle')} | {mib(r, 'mix')} |"
            if largest:
                line += f" {mib(r, largest)} |"
            print(line)

    def get(target, scenario="get_me"):
        return results.get((target, scenario))

    def rps(target, scenario="get_me"):
        return (get(target, scenario) or (0,))[0]

    lines = []
    sq, pg, pgr = rps("service-sqlite"), rps("service-postgres"), rps("service-postgres+redis")
    if sq and rps("fastapi-sqlite"):
        lines.append(f"service-sqlite get_me / fastapi-sqlite: {sq / rps('fastapi-sqlite'):.1f}x (target >= 25x)")
    if sq and rps("axum-ceiling-jwt"):
        lines.append(f"service-sqlite get_me / axum-ceiling-jwt: {100 * sq / rps('axum-ceiling-jwt'):.0f} % (target >= 50 %)")
    if sq and pg:
        lines.append(f"service-postgres / service-sqlite get_me: {100 * pg / sq:.0f} % (target >= 40 %)")
    if sq and pgr:
        lines.append(f"service-postgres+redis / service-sqlite get_me: {100 * pgr / sq:.0f} % (target >= 50 %)")
    for target in dict.fromkeys(t for t, _ in results if t.startswith("service-")):
        read, write = rps(target), rps(target, "patch")
        if read and write:
            lines.append(f"{target.removeprefix('service-')}: patch / get_me: {100 * write / read:.0f} % (target >= 25 %)")
    for scenario in ("get_me", "mix"):
        one, two = rps("service-postgres+redis", scenario), rps("service-postgres+redis-x2", scenario)
        if one and two:
            lines.append(f"postgres+redis {scenario}: two instances / one instance: {two / one:.2f}x (scale-out, no target)")
    for scenario, limit in (("patch", 20), ("mix", 10)):
        r = get("service-sqlite", scenario)
        if r:
            lines.append(f"sqlite {scenario} p99: {r[2]:.2f} ms (target <= {limit} ms)")
    if lines:
        print("\nRatios (this run):\n")
        for line in lines:
            print(f"- {line}")


if __name__ == "__main__":
    main()

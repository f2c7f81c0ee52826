#!/usr/bin/env python3
"""Formats the harness's RESULT lines as a Markdown table with the ratios the targets are stated in."""
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
    for row in rows:
        m = re.match(r"(\S+) (\S+) RESULT rps=(\d+) p50_ms=([\d.]+) p99_ms=([\d.]+) errors=(\d+) non2xx=(\d+)", row)
        if m:
            target, scenario, rps, p50, p99, errors, non2xx = m.groups()
            results[(target, scenario)] = (int(rps), float(p50), float(p99), int(errors) + int(non2xx))
    print(f"Machine: {machine()}; load generator wrk on the same machine, {conns} connections, 2 threads,")
    print(f"{duration} per scenario, tokens rotating over {users} users, {int(profiles):,} profiles seeded.\n")
    print("| target | scenario | requests/s | p50 ms | p99 ms | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for (target, scenario), (rps, p50, p99, errors) in results.items():
        print(f"| {target} | {scenario} | {rps:,} | {p50:.2f} | {p99:.2f} | {errors} |")

    def rps(target, scenario="get_me"):
        return results.get((target, scenario), (0,))[0]

    lines = []
    sq, pg = rps("service-sqlite"), rps("service-postgres")
    if sq and rps("fastapi-sqlite"):
        lines.append(f"service-sqlite get_me / fastapi-sqlite: {sq / rps('fastapi-sqlite'):.1f}x (target >= 25x)")
    if sq and rps("axum-ceiling-jwt"):
        lines.append(f"service-sqlite get_me / axum-ceiling-jwt: {100 * sq / rps('axum-ceiling-jwt'):.0f} % (target >= 50 %)")
    if sq and pg:
        lines.append(f"service-postgres / service-sqlite get_me: {100 * pg / sq:.0f} % (target >= 50 %)")
    for backend in ("sqlite", "postgres"):
        read, write = rps(f"service-{backend}"), rps(f"service-{backend}", "patch")
        if read and write:
            lines.append(f"{backend}: patch / get_me: {100 * write / read:.0f} % (target >= 25 %)")
    if lines:
        print("\nRatios:\n")
        for line in lines:
            print(f"- {line}")


if __name__ == "__main__":
    main()

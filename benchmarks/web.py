"""The web server under load, on loopback (run on demand: ``python benchmarks/web.py``).

Starts ``matcalc serve --port 0`` (as a user would: its own process, its warm workers,
one per core unless ``--workers``), then measures

- the warm answer: one client, one request after another, a derivative with its SymPy
  check (``L(W x + b)`` with respect to W), the median and p90 of the wall time;
- the load: 8 and then 32 clients, each on its own kept-alive connection, each sending
  requests one after another (a mix of six derivatives) until the total is reached: p50,
  p90, p99 and max of the wall time of the requests answered, the answers per second, and
  how many were refused with 503 (the queue was full) or failed — first the derivatives
  alone (the page's first request as one types), then each with its SymPy check (the
  second; the mix's checks take 0.05 to 1.3 s of one core each).

Wall time is what a user waits for; it depends on what else the machine runs, so the
load average before the run is printed too, and, for the warm answer, the CPU time it
took (of the server's whole process tree, from /proc), which does not.  Only 127.0.0.1 is used and every loop is
bounded.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time

EXPRS = [("x' A x", "x"), ("tr(A X B)", "X"), ("L(W x + b)", "W"), ("‖A x − b‖²", "x"), ("logdet(X)", "X"),
         ("sum(log(1 + exp(X w)))", "w")]


def start(workers: int | None) -> tuple[subprocess.Popen, str, int]:
    argv = [sys.executable, "-m", "matcalc.cli", "serve", "--port", "0"]
    if workers:
        argv += ["--workers", str(workers)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("matcalc is serving on "):
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    host, port = line.split()[4].rstrip("/").removeprefix("http://").rsplit(":", 1)
    return proc, host, int(port)


def ask(conn: http.client.HTTPConnection, request: dict) -> tuple[int, dict]:
    conn.request("POST", "/api", json.dumps(request).encode(), {"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, json.loads(r.read())


def tree_cpu(pid: int) -> float | None:
    """CPU seconds of a process and its descendants so far, with the children they have
    reaped (a check's child, reaped by its worker); None where there is no /proc."""
    try:
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                stats[int(entry)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
    except OSError:
        return None
    tree, grew = {pid}, True
    while grew:
        more = {p for p, (parent, _) in stats.items() if parent in tree} - tree
        grew = bool(more)
        tree |= more
    return sum(stats[p][1] for p in tree if p in stats) / os.sysconf("SC_CLK_TCK")


def warm_answer(host: str, port: int, n: int, server: int) -> tuple[list[float], float | None]:
    """Wall times of ``n`` warm answers, and the CPU time per answer of the server's
    process tree (the server, its workers, their checks' children)."""
    conn = http.client.HTTPConnection(host, port, timeout=120)
    times = []
    cpu0 = tree_cpu(server)
    for _ in range(n):
        t = time.perf_counter()
        status, d = ask(conn, {"kind": "diff", "expr": "L(W x + b)", "wrt": "W", "check": True})
        times.append(time.perf_counter() - t)
        assert status == 200 and d["check"]["status"] == "verified", d
    cpu1 = tree_cpu(server)
    conn.close()
    return times, None if cpu0 is None or cpu1 is None else (cpu1 - cpu0) / n


def load(host: str, port: int, clients: int, total: int, check: bool) -> dict:
    latencies: list[float] = []
    counts = {"answered": 0, "503": 0, "failed": 0}
    lock = threading.Lock()
    left = [total]
    go = threading.Barrier(clients)

    def client(k: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=120)
        go.wait()
        i = 0
        while True:
            with lock:
                if left[0] <= 0:
                    break
                left[0] -= 1
            expr, wrt = EXPRS[(k + i) % len(EXPRS)]
            i += 1
            t = time.perf_counter()
            try:
                status, d = ask(conn, {"kind": "diff", "expr": expr, "wrt": wrt, "check": check})
                outcome = "answered" if status == 200 and d.get("kind") == "derivative" else \
                    "503" if status == 503 else "failed"
            except (OSError, http.client.HTTPException, ValueError):
                outcome = "failed"
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=120)
            dt = time.perf_counter() - t
            with lock:
                counts[outcome] += 1
                if outcome == "answered":
                    latencies.append(dt)
            if outcome == "503":
                time.sleep(1.0)  # as the page does, after Retry-After (shortened here)
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
    return {"clients": clients, **counts, "p50": q[49], "p90": q[89], "p99": q[98], "max": max(latencies),
            "per_second": counts["answered"] / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=None, help="matcalc serve --workers (default: the cores)")
    ap.add_argument("--requests", type=int, default=300, help="requests per load level (default 300)")
    ap.add_argument("--warm", type=int, default=40, help="requests of the warm-answer measurement (default 40)")
    args = ap.parse_args()
    print(f"load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{os.cpu_count()} cores", flush=True)
    proc, host, port = start(args.workers)
    try:
        times, cpu = warm_answer(host, port, args.warm, proc.pid)
        q = statistics.quantiles(times, n=10)
        print(f"warm answer (diff L(W x + b) W with its check, one client, {args.warm} requests): "
              f"median {statistics.median(times) * 1e3:.0f} ms, p90 {q[8] * 1e3:.0f} ms, "
              f"min {min(times) * 1e3:.0f} ms; CPU time per answer "
              f"{'n/a' if cpu is None else f'{cpu * 1e3:.0f} ms'} (server, worker and the check's child)", flush=True)
        for check in (False, True):
            for clients in (8, 32):
                r = load(host, port, clients, args.requests, check)
                print(f"{'with its check' if check else 'derivative':14}, {clients:2d} clients, {args.requests} "
                      f"requests: p50 {r['p50'] * 1e3:.0f} ms, "
                      f"p90 {r['p90'] * 1e3:.0f} ms, p99 {r['p99'] * 1e3:.0f} ms, max {r['max'] * 1e3:.0f} ms; "
                      f"{r['per_second']:.1f} answers/s; {r['503']} refused (503), {r['failed']} failed", flush=True)
    finally:
        proc.terminate()
        proc.wait(60)


if __name__ == "__main__":
    main()

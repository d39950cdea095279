"""Scale benchmark (`make bench`, or `python -m tests.bench`): the user list page, the search
fragment, the edit fragment and an inline save, at 1,000, 10,000 and 100,000 members, served by gunicorn.

For each size: a fresh SQLite database in a temporary directory, migrated and filled with
`flask seed-demo`; gunicorn with 2 sync workers on a free loopback port; sign-in as the demo
primary; then a load generator in a separate process (a few threads, one connection per request,
as sync workers close it) runs each endpoint for a fixed time after a warm-up, and the search
fragment once more from a single client. Prints requests/s, p50/p99 latency and the server's CPU
time per request (read from /proc for the gunicorn workers; steadier than latency when other
processes share the machine) per size and endpoint, and the 100k/1k ratios.

Also the API's member lookup (GET /api/v1/sites/<n>/members/<email>, issue 16) with an API key
inserted straight into the database, and a yardstick: a bare Flask + SQLAlchemy app
(tests/bench_yardstick.py) that answers one membership row as JSON from the same database file,
under gunicorn with the same settings. The lookup is reported as a ratio to the yardstick.

Issue 15: the same gunicorn settings and load (2 sync workers, 8 concurrent connections by default)
also serve the yardstick's User list page (25 members + count from a plain template, no sign-in),
search fragment, edit fragment and a POST that updates one row (tests/bench_yardstick.py); each
Sitepass endpoint is printed as a ratio to its counterpart (goals: list >= 0.3x, the others >= 0.5x),
with the SQL statements and CPU ms of one request measured in-process (tests/measure_list.py; the
User list in at most 8 statements), and the User list's p99 < 50 ms like the search fragment's.

Goals (issue 3, "Scale"): the 100,000-member figures within 2x of the 1,000-member ones, and the
search fragment under 50 ms at p99. Issue 14: the User list in German (Accept-Language: de) within
10 % of the English one, judged on the server's CPU time per request (the steady figure; req/s and
latencies are printed beside it). Issue 16: the member lookup at >= 0.5x the yardstick's
requests/s and p99 < 20 ms. Not collected by pytest (no test_ prefix).

Options: --sizes 1000,100000  --duration SECONDS (per endpoint)  --warmup SECONDS  --concurrency N
         --endpoints list,list_de,search,edit,save,search1,api,y_list,y_search,y_edit,y_save,yardstick
           (default: all)  --workers N (gunicorn sync workers; default 2, as issue 15 measured)
         --keep (leave the temporary directories for inspection)
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Issue 15's setting: 2 sync workers, 8 concurrent connections (--workers, --concurrency change them).
WORKERS = 2
CONCURRENCY = 8
SECRET_KEY = "bench-secret-key-not-for-production"
# The seed-demo password and primary (views/demo.py); read from there so both stay in step.
SEARCH_TERMS = ("mar", "smith", "ngu", "sofia", "kowal", "eu.demo", "oconnor", "li", "tanaka", "jos")
GOAL_RATIO = 2.0
GOAL_SEARCH_P99_MS = 50.0
GOAL_LANGUAGE_RATIO = 1.10
GOAL_API_RATIO = 0.5
GOAL_API_P99_MS = 20.0
# The API key the bench inserts (only its hash is stored, as the app does); the bench's own.
BENCH_API_KEY = "sp_bench-api-key-not-for-production-0123456789"
# The lookup's load comes from many applications, as it would in use: one key alone at the bench's rate
# would make tens of thousands of requests a minute, a hundred times its limit (600 a minute).
BENCH_API_KEYS = [f"{BENCH_API_KEY}-{number:03d}" for number in range(200)]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_credentials() -> tuple[str, str]:
    sys.path.insert(0, str(ROOT))
    from views.demo import DEMO_PASSWORD, DEMO_PRIMARY_EMAIL

    return DEMO_PRIMARY_EMAIL, DEMO_PASSWORD


# --- the server under test ----------------------------------------------------------------------

def server_env(db_path: Path, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SITEPASS_SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
        "SITEPASS_SECRET_KEY": SECRET_KEY,
        "SITEPASS_BASE_URL": f"http://127.0.0.1:{port}",
        "SITEPASS_MAIL_DELIVER_AFTER_COMMIT": "false",
    })
    return env


def flask_cli(env, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def start_gunicorn(env, port: int, log_path: Path, app_spec: str = "app:create_app()") -> subprocess.Popen:
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}",
         "--access-logfile", "-", app_spec],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # Ready when every worker has said it booted and the app answers.
        booted = log_path.read_text(errors="replace").count("Booting worker")
        try:
            answered = booted >= WORKERS and request(port, "GET", "/sign-in")[0] == 200
        except OSError:
            answered = False
        if answered:
            return process
        try:
            # Waits for gunicorn to exit (then fails at once), checking again every 0.2 s.
            process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
        raise SystemExit(f"gunicorn exited with {process.returncode}; see {log_path}")
    stop(process)
    raise SystemExit(f"gunicorn did not answer within 30 s; see {log_path}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # gunicorn's graceful stop of master and workers
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_pids(master: subprocess.Popen) -> list[int]:
    pids = []
    for task in Path(f"/proc/{master.pid}/task").iterdir():
        try:
            pids += [int(pid) for pid in (task / "children").read_text().split()]
        except OSError:
            pass
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by these processes (Linux /proc), 0 where unavailable."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / ticks


# --- HTTP -----------------------------------------------------------------------------------------

def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return response.status, response.getheaders(), data
    finally:
        connection.close()


def session_cookie(headers) -> str | None:
    for name, value in headers:
        if name.lower() == "set-cookie" and value.startswith("session="):
            return value.split(";", 1)[0]
    return None


def sign_in(port: int, email: str, password: str, site_id: int) -> tuple[str, str]:
    """Sign in as a person like a browser does; return the session cookie and the page's CSRF token."""
    status, headers, body = request(port, "GET", "/sign-in")
    cookie = session_cookie(headers)
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', body)
    if status != 200 or cookie is None or token is None:
        raise SystemExit(f"GET /sign-in: {status}, no session cookie or CSRF token")
    form = urllib.parse.urlencode({"csrf_token": (token.group(1) or token.group(2)).decode(), "email": email,
                                   "password": password, "submit": "Sign in"}).encode()
    status, headers, body = request(port, "POST", "/sign-in", form, {
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    cookie = session_cookie(headers)
    if status != 303 or cookie is None:
        raise SystemExit(f"POST /sign-in answered {status}: {body[:300]!r}")
    # The session starts afresh at sign-in, so the CSRF token comes from a page rendered after it.
    status, headers, body = request(port, "GET", f"/sites/{site_id}/members", headers={"Cookie": cookie})
    cookie = session_cookie(headers) or cookie
    token = re.search(rb'"X-CSRFToken": "([^"]+)"', body)
    if status != 200 or token is None:
        raise SystemExit(f"GET /sites/{site_id}/members after sign-in answered {status}")
    return cookie, token.group(1).decode()


# --- the load generator (runs in its own process: python -m tests.bench --load JSON) -----------

def run_load(spec: dict) -> dict:
    """Drive one endpoint with `concurrency` threads for warmup + duration seconds; return samples."""
    port, concurrency = spec["port"], spec["concurrency"]
    base_headers = {"Cookie": spec["cookie"]}
    samples: list[list[float]] = [[] for _ in range(concurrency)]
    counts = [0] * concurrency
    errors: list[str] = []
    start = time.monotonic()
    measure_from = start + spec["warmup"]
    stop_at = measure_from + spec["duration"]

    def worker(index: int):
        n = 0
        level = 1
        while True:
            now = time.monotonic()
            if now >= stop_at:
                return
            headers = dict(base_headers)
            body = None
            if spec["endpoint"] in ("list", "list_de"):
                method, path = "GET", f"/sites/{spec['site_id']}/members"
                # The demo primary chose no language: the browser's decides.
                headers["Accept-Language"] = "de-DE,de;q=0.9" if spec["endpoint"] == "list_de" else "en"
            elif spec["endpoint"] in ("api", "yardstick"):
                email = urllib.parse.quote(spec["emails"][(index + n * concurrency) % len(spec["emails"])])
                if spec["endpoint"] == "api":
                    method, path = "GET", f"/api/v1/sites/{spec['site_number']}/members/{email}"
                    key = BENCH_API_KEYS[(index + n * concurrency) % len(BENCH_API_KEYS)]
                    headers = {"Authorization": f"Bearer {key}"}
                else:
                    method, path = "GET", f"/yardstick/{spec['site_number']}/{email}"
                    headers = {}
            elif spec["endpoint"] == "y_list":
                method, path = "GET", f"/yardstick/sites/{spec['site_id']}/members"
            elif spec["endpoint"] in ("search", "y_search"):
                term = spec["terms"][(index + n * concurrency) % len(spec["terms"])]
                prefix = "/yardstick" if spec["endpoint"] == "y_search" else ""
                method, path = "GET", f"{prefix}/sites/{spec['site_id']}/members?q={urllib.parse.quote(term)}"
                headers["HX-Request"] = "true"
            elif spec["endpoint"] in ("edit", "y_edit"):
                prefix = "/yardstick" if spec["endpoint"] == "y_edit" else ""
                method = "GET"
                path = f"{prefix}/sites/{spec['site_id']}/members/{spec['targets'][index]}/edit"
                headers["HX-Request"] = "true"
            else:
                # Each thread edits its own member, alternating the level so that every save writes.
                method = "POST"
                prefix = "/yardstick" if spec["endpoint"] == "y_save" else ""
                path = f"{prefix}/sites/{spec['site_id']}/members/{spec['targets'][index]}"
                body = f"role=user&tool_{spec['tool_id']}={level}".encode()
                level = 1 - level
                headers.update({"HX-Request": "true", "X-CSRFToken": spec["csrf"],
                                "Content-Type": "application/x-www-form-urlencoded"})
            began = time.perf_counter()
            try:
                status, _headers, data = request(port, method, path, body, headers)
            except OSError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - began
            if status != 200:
                errors.append(f"{method} {path} -> {status}: {data[:200]!r}")
            elif spec["endpoint"] in ("save", "y_save") and b"member-" not in data:
                errors.append(f"{method} {path} -> 200 without the row")
            elif spec["endpoint"] == "list_de" and b'<html lang="de"' not in data:
                errors.append(f"{method} {path} -> 200 not in German")
            if now >= measure_from:  # requests begun during the warm-up are not counted
                samples[index].append(elapsed)
            n += 1
            counts[index] = n

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies = sorted(s for per_thread in samples for s in per_thread)
    return {"count": len(latencies), "total": sum(counts), "duration": spec["duration"], "latencies": latencies,
            "errors": errors[:5], "error_count": len(errors)}


def load(spec: dict) -> dict:
    """Run the load generator in a separate process, so its CPU use is not the bench's."""
    result = subprocess.run([sys.executable, "-m", "tests.bench", "--load", json.dumps(spec)], cwd=ROOT,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"load generator failed:\n{result.stderr}")
    return json.loads(result.stdout)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(fraction * len(values) + 0.5) - 1))
    return values[index]


# --- one size -------------------------------------------------------------------------------------

def facts(db_path: Path, concurrency: int) -> dict:
    """Read from the seeded database what the requests need: site, tool id, members to edit."""
    with sqlite3.connect(db_path) as conn:
        site_id = conn.execute("SELECT id FROM site WHERE site_number = 'DEMO-1'").fetchone()[0]
        tool_id = conn.execute("SELECT id FROM tool WHERE key = 'reporting'").fetchone()[0]
        # Users holding no Reporting level: the first save sets View, the next clears it again.
        targets = [row[0] for row in conn.execute(
            "SELECT m.id FROM membership m WHERE m.site_id = ? AND m.role = 'user' AND NOT EXISTS "
            "(SELECT 1 FROM privilege p WHERE p.membership_id = m.id AND p.tool_id = ?) ORDER BY m.id LIMIT ?",
            (site_id, tool_id, concurrency))]
        # Members the API lookup and the yardstick ask for, spread over the site.
        emails = [row[0] for row in conn.execute(
            "SELECT p.email FROM membership m JOIN person p ON p.id = m.person_id WHERE m.site_id = ? "
            "AND p.email_verified_at IS NOT NULL ORDER BY m.id", (site_id,))][::97][:100]
    if len(targets) < concurrency:
        raise SystemExit("not enough users without Reporting to edit")
    return {"site_id": site_id, "tool_id": tool_id, "targets": targets, "site_number": "DEMO-1", "emails": emails}


def insert_api_key(db_path: Path) -> None:
    """Give the bench its API keys for every site, inserted as the app stores them (their SHA-256 only)."""
    sys.path.insert(0, str(ROOT))
    from models.tokens import hash_token

    with sqlite3.connect(db_path) as conn:
        conn.executemany("INSERT INTO api_key (name, prefix, key_hash, all_sites, created_at) "
                         "VALUES ('bench', ?, ?, 1, CURRENT_TIMESTAMP)",
                         [(key[:11], hash_token(key)) for key in BENCH_API_KEYS])


def measure(server: subprocess.Popen, spec: dict, endpoint: str, size: int) -> dict:
    """Run the load of one endpoint against a server; print and return its figures."""
    pids = worker_pids(server)
    load_before, cpu_before = os.getloadavg()[0], cpu_seconds(pids)
    outcome = load(spec)
    # The server's own CPU per request (warm-up included): steadier than latency on a busy machine.
    cpu_per_request = (cpu_seconds(pids) - cpu_before) / max(1, outcome["total"]) * 1000
    if outcome["error_count"]:
        raise SystemExit(f"{endpoint} at {size}: {outcome['error_count']} failed requests, e.g. "
                         f"{outcome['errors']}")
    latencies = outcome["latencies"]
    r = {"rps": outcome["count"] / outcome["duration"], "count": outcome["count"],
         "p50": percentile(latencies, 0.50) * 1000, "p99": percentile(latencies, 0.99) * 1000,
         "cpu": cpu_per_request, "load": load_before}
    print(f"   {endpoint:<9}{r['rps']:8.1f} req/s  p50 {r['p50']:7.1f} ms  p99 {r['p99']:7.1f} ms  "
          f"server CPU {r['cpu']:6.1f} ms/req  ({r['count']} requests; load average before {load_before:.1f})",
          flush=True)
    return r


def bench_size(size: int, args, email: str, password: str) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"sitepass-bench-{size}-"))
    db_path = workdir / "sitepass.sqlite3"
    port = free_port()
    env = server_env(db_path, port)
    print(f"\n== {size:,} members ({workdir})", flush=True)
    flask_cli(env, "db", "upgrade")
    began = time.perf_counter()
    output = flask_cli(env, "seed-demo", "--members", str(size))
    print(f"   seed-demo: {time.perf_counter() - began:.1f} s ({output.strip().splitlines()[-1][:110]}…)", flush=True)
    known = facts(db_path, args.concurrency)
    insert_api_key(db_path)
    results = {}
    server = None
    try:
        app_endpoints = [endpoint for endpoint in args.endpoints if endpoint not in YARDSTICKS]
        if app_endpoints:
            server = start_gunicorn(env, port, workdir / "gunicorn.log")
            cookie, csrf = sign_in(port, email, password, known["site_id"])
        for endpoint in app_endpoints:
            # "search1": the same search fragment from one client alone, the latency a person typing sees.
            concurrency = 1 if endpoint == "search1" else args.concurrency
            spec = {"port": port, "endpoint": endpoint.rstrip("1"), "cookie": cookie, "csrf": csrf,
                    "terms": SEARCH_TERMS, "concurrency": concurrency, "warmup": args.warmup,
                    "duration": args.duration / 2 if endpoint == "search1" else args.duration, **known}
            results[endpoint] = measure(server, spec, endpoint, size)
        yardsticks = [endpoint for endpoint in args.endpoints if endpoint in YARDSTICKS]
        if yardsticks:
            # The same database file, gunicorn settings and load, served by the bare app.
            if server is not None:
                stop(server)
            server = start_gunicorn(env, port, workdir / "yardstick.log", "tests.bench_yardstick:create_app()")
            for endpoint in yardsticks:
                spec = {"port": port, "endpoint": endpoint, "cookie": "", "csrf": "", "terms": SEARCH_TERMS,
                        "concurrency": args.concurrency, "warmup": args.warmup, "duration": args.duration, **known}
                results[endpoint] = measure(server, spec, endpoint, size)
            stop(server)
            server = None
        # One request's SQL statements and CPU ms, in-process (tests/measure_list.py), after the load.
        results["in_process"] = in_process(db_path)
    finally:
        if server is not None:
            stop(server)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


ENDPOINTS = ("list", "list_de", "search", "edit", "save", "search1", "api",
             "y_list", "y_search", "y_edit", "y_save", "yardstick")
YARDSTICKS = ("y_list", "y_search", "y_edit", "y_save", "yardstick")
# Each Sitepass endpoint's counterpart in the bare app (tests/bench_yardstick.py), for the ratios.
COUNTERPART = {"list": "y_list", "list_de": "y_list", "search": "y_search", "edit": "y_edit", "save": "y_save",
               "api": "yardstick"}
GOAL_YARDSTICK_RATIO = {"list": 0.3, "list_de": 0.3, "search": 0.5, "edit": 0.5, "save": 0.5, "api": 0.5}
GOAL_LIST_STATEMENTS = 8
LABELS = {"list": "User list page   GET /sites/<id>/members",
          "list_de": "User list page in German (Accept-Language)",
          "search": "Search fragment  GET …/members?q= (HX)",
          "edit": "Edit fragment    GET …/<mid>/edit (HX)",
          "save": "Inline save      POST …/members/<mid> (HX)",
          "search1": "Search fragment, one client alone",
          "api": "API member lookup GET /api/v1/…/members/<e>",
          "y_list": "Yardstick: list page, 25 + count",
          "y_search": "Yardstick: search fragment (LIKE scan)",
          "y_edit": "Yardstick: edit fragment",
          "y_save": "Yardstick: POST updating one row",
          "yardstick": "Yardstick: bare Flask+SQLAlchemy row"}


def in_process(db_path: Path) -> dict:
    """SQL statements and CPU ms of one request per member endpoint, in-process (tests/measure_list.py)."""
    result = subprocess.run([sys.executable, "-m", "tests.measure_list", "--db", str(db_path), "--json",
                             "--requests", "30"], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"in-process measurement failed:\n{result.stderr}")
    return json.loads(result.stdout)


def report(all_results: dict[int, dict], args) -> bool:
    sizes = sorted(all_results)
    small, large = sizes[0], sizes[-1]
    print(f"\ngunicorn {WORKERS} sync workers, {args.concurrency} concurrent clients, "
          f"{args.duration:g} s per endpoint after {args.warmup:g} s warm-up, {os.cpu_count()} CPUs\n")
    header = f"{'size':>8}  {'endpoint':<42} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11} {'load':>5}"
    print(header)
    print("-" * len(header))
    for size in sizes:
        for endpoint in args.endpoints:
            r = all_results[size].get(endpoint)
            if r is None:
                continue
            print(f"{size:>8,}  {LABELS[endpoint]:<42} {r['rps']:8.1f} {r['p50']:8.1f} {r['p99']:8.1f} "
                  f"{r['cpu']:11.1f} {r['load']:5.1f}")
    ok = True
    if len(sizes) > 1:
        print(f"\nratio {large // 1000}k/{small // 1000}k (goal: within {GOAL_RATIO:g}x; for req/s the ratio is "
              f"{small // 1000}k/{large // 1000}k so that higher is worse everywhere)")
        print(f"{'':>8}  {'endpoint':<42} {'req/s':>8} {'p50':>8} {'p99':>8} {'CPU/req':>11}")
        for endpoint in args.endpoints:
            a, b = all_results[small].get(endpoint), all_results[large].get(endpoint)
            if a is None or b is None:
                continue
            ratios = (a["rps"] / b["rps"], b["p50"] / a["p50"], b["p99"] / a["p99"], b["cpu"] / max(a["cpu"], 1e-9))
            missed = any(r > GOAL_RATIO for r in ratios[:3])
            ok &= not missed
            print(f"{'':>8}  {LABELS[endpoint]:<42} {ratios[0]:7.2f}x {ratios[1]:7.2f}x {ratios[2]:7.2f}x "
                  f"{ratios[3]:10.2f}x  {'MISSED' if missed else 'ok'}")
    print("\nratio to the yardstick (req/s of Sitepass / req/s of its bare Flask + SQLAlchemy counterpart, same "
          "run, same gunicorn settings and load), and one request in-process")
    print("(the CPU ratio is the yardstick's server CPU ms per request over Sitepass's: steadier when other processes load "
          "the machine)")
    print(f"{'size':>8}  {'endpoint':<42} {'ratio':>7} {'goal':>6} {'CPU ratio':>9} {'p99 ms':>8} {'SQL':>5} {'CPU ms':>7}")
    for size in sizes:
        inproc = all_results[size].get("in_process", {})
        for endpoint, counterpart in COUNTERPART.items():
            r, y = all_results[size].get(endpoint), all_results[size].get(counterpart)
            if r is None or y is None:
                continue
            ratio = r["rps"] / y["rps"]
            met = ratio >= GOAL_YARDSTICK_RATIO[endpoint]
            ok &= met
            figures = inproc.get(endpoint, {})
            sql = f"{figures['sql']:5d}" if figures else f"{'':>5}"
            cpu = f"{figures['cpu_ms']:7.1f}" if figures else f"{'':>7}"
            cpu_ratio = y["cpu"] / max(r["cpu"], 1e-9)
            print(f"{size:>8,}  {LABELS[endpoint]:<42} {ratio:6.2f}x {GOAL_YARDSTICK_RATIO[endpoint]:5.1f}x "
                  f"{cpu_ratio:8.2f}x {r['p99']:8.1f} {sql} {cpu}  {'ok' if met else 'MISSED'}")
        if "list" in inproc:
            met = inproc["list"]["sql"] <= GOAL_LIST_STATEMENTS
            ok &= met
            print(f"User list at {size:,} members: {inproc['list']['sql']} SQL statements (goal <= "
                  f"{GOAL_LIST_STATEMENTS}): {'ok' if met else 'MISSED'}")
    busiest = max(r["load"] for per_size in all_results.values() for r in per_size.values() if "load" in r)
    if busiest > (os.cpu_count() or 1):
        print(f"\nwarning: the load average reached {busiest:.1f} on {os.cpu_count()} CPUs: other processes competed "
              f"for the CPU, so latencies and req/s are inflated; CPU ms/req is the steadier figure")
    print()
    for size in sizes:
        if not {"list", "list_de"} <= set(all_results[size]):
            continue
        en, de = all_results[size]["list"], all_results[size]["list_de"]
        cpu = de["cpu"] / max(en["cpu"], 1e-9)
        met = cpu <= GOAL_LANGUAGE_RATIO
        ok &= met
        print(f"User list at {size:,} members, de/en: CPU/req {cpu:.2f}x (goal within "
              f"{(GOAL_LANGUAGE_RATIO - 1) * 100:.0f} %): {'ok' if met else 'MISSED'}; "
              f"p50 {de['p50'] / en['p50']:.2f}x, req/s {de['rps'] / en['rps']:.2f}x "
              f"(de {de['cpu']:.1f} ms/req, en {en['cpu']:.1f} ms/req)")
    for size in sizes:
        for endpoint, how in (("list", f"User list p99 at {size:,} members, {args.concurrency} concurrent clients"),
                              ("search", f"search fragment p99 at {size:,} members, {args.concurrency} concurrent clients"),
                              ("search1", f"search fragment p99 at {size:,} members, one client")):
            if endpoint not in args.endpoints:
                continue
            p99 = all_results[size][endpoint]["p99"]
            met = p99 < GOAL_SEARCH_P99_MS
            ok &= met
            print(f"{how}: {p99:.1f} ms (goal < {GOAL_SEARCH_P99_MS:g} ms): {'ok' if met else 'MISSED'}")
    for size in sizes:
        api, yardstick = all_results[size].get("api"), all_results[size].get("yardstick")
        if api is None:
            continue
        met = api["p99"] < GOAL_API_P99_MS
        print(f"API member lookup p99 at {size:,} members: {api['p99']:.1f} ms (goal < {GOAL_API_P99_MS:g} ms): "
              f"{'ok' if met else 'MISSED'}")
        ok &= met
        if yardstick is not None:
            ratio = api["rps"] / yardstick["rps"]
            met = ratio >= GOAL_API_RATIO
            ok &= met
            print(f"API member lookup at {size:,} members: {ratio:.2f}x the yardstick's req/s "
                  f"({api['rps']:.0f} / {yardstick['rps']:.0f}; CPU {api['cpu']:.1f} / {yardstick['cpu']:.1f} ms/req; "
                  f"goal >= {GOAL_API_RATIO:g}x): {'ok' if met else 'MISSED'}")
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load:
        json.dump(run_load(json.loads(args.load)), sys.stdout)
        return 0
    args.endpoints = [name for name in args.endpoints.split(",") if name in ENDPOINTS]
    globals()["WORKERS"] = args.workers  # start_gunicorn and report read it
    email, password = demo_credentials()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    all_results = {size: bench_size(size, args, email, password) for size in sizes}
    ok = report(all_results, args)
    print("\nall goals met" if ok else "\nsome goals missed (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

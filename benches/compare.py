#!/usr/bin/env python3
"""credwatch next to tools it did not write: the measurements behind docs/performance.md.

Run through scripts/bench (which installs the tools and builds the release binary); this file
does the measuring. Parts:

  vault      an OpenBao dev server with N KV v2 secrets: its capacity (wrk on the metadata reads
             at c=4 and c=16; on the detailed listing and with a policy token at c=16), then
             `credwatch textfile` and `check --output json`, `textfile` with per-secret reads
             (a token whose policy denies the detailed listing), then benches/vault_scan.py, in
             rounds
  directory  a directory of N files: benches/floor_dir.c, `textfile`, `check --output json`
  metrics    /metrics at 10k credentials with wrk (identity and gzip, idle and refreshing every
             second), next to node_exporter's textfile collector serving the same series and nginx
             serving the same text as a static file (the floor of any HTTP server on this machine)
  inventory  N `[[credential]]` entries: `check`
  memory     in-process assess + encode at 10k…100k (the `perf` bench binary)
  push       `credwatch push` next to the shell CronJob (sh + curl) it replaces

Everything listens on 127.0.0.1; every wait is bounded; every server started is stopped. Speed and
memory are judged only in the printed verdicts (GOAL lines), never in tests.
"""

import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHES = os.path.join(ROOT, "benches")
GNU_TIME = "/usr/bin/time"
NOW = int(time.time())
DAY = 86400
MiB = 1024 * 1024

# Everything started here, stopped at exit whatever happens.
RUNNING = []


def stop_all():
    while RUNNING:
        stop(RUNNING[-1])


def on_signal(signum, _frame):
    stop_all()
    sys.exit(128 + signum)


def start(argv, **kw):
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, **kw)
    RUNNING.append(proc)
    return proc


def stop(proc):
    if proc in RUNNING:
        RUNNING.remove(proc)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, deadline_s=60, proc=None, headers=None):
    """Polls `url` until it answers 200; bounded."""
    until = time.monotonic() + deadline_s
    while time.monotonic() < until:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} before {url} answered")
        try:
            req = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(req, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer 200 within {deadline_s} s")


def measure(argv, env=None, stdout=None, ok=(0,), cwd=None, timeout=1800):
    """Runs argv under GNU time: (wall seconds, peak RSS KiB). stdout: a path or None (discard)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        out = open(stdout, "wb") if stdout else subprocess.DEVNULL
        try:
            t0 = time.perf_counter()
            p = subprocess.run(
                [GNU_TIME, "-f", "%M", "-o", tf.name, *argv],
                env=env,
                stdout=out,
                stderr=subprocess.PIPE,
                cwd=cwd,
                timeout=timeout,
            )
            wall = time.perf_counter() - t0
        finally:
            if stdout:
                out.close()
        if p.returncode not in ok:
            raise RuntimeError(
                f"{' '.join(argv)} exited with {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}"
            )
        lines = [ln for ln in open(tf.name).read().splitlines() if ln.strip()]
        return wall, int(lines[-1])


def median(xs):
    return statistics.median(xs)


def spread(xs, fmt="{:.2f}"):
    """`median (min–max)`."""
    return f"{fmt.format(median(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


GOALS = []


def goal(what, value, limit, higher_is_better, unit="", detail=""):
    met = value >= limit if higher_is_better else value <= limit
    # Two decimals, or three where two would round a miss onto the goal.
    digits = 2 if met or abs(value - limit) >= 0.005 else 3
    verdict = "met" if met else f"missed by {abs(value - limit):.{digits}f}{unit}"
    cmp = "≥" if higher_is_better else "≤"
    line = f"GOAL {what}: {value:.{digits}f}{unit} (goal {cmp} {limit:g}{unit}) — {verdict}"
    if detail:
        line += f"; {detail}"
    GOALS.append(line)
    print(line, flush=True)


def section(title):
    print(f"\n## {title}\n", flush=True)


# ---------------------------------------------------------------------------------------------
# The machine.


def machine(args):
    cpuinfo = open("/proc/cpuinfo").read()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")),
        platform.processor() or "unknown",
    )
    mem_kib = next(
        int(ln.split()[1]) for ln in open("/proc/meminfo") if ln.startswith("MemTotal:")
    )
    def first(*argv):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return "not installed"
        return ((p.stdout + p.stderr).strip().splitlines() or ["?"])[0]

    versions = {
        "credwatch": first(args.credwatch, "--version"),
        "OpenBao": first("bao", "version"),
        "wrk": first("wrk", "-v"),
        "node_exporter": first("prometheus-node-exporter", "--version"),
        "Pushgateway": first("prometheus-pushgateway", "--version"),
        "gcc": first("gcc", "--version"),
        "Python": platform.python_version(),
        "rustc": first("rustc", "--version"),
        "curl": first("curl", "--version"),
    }
    section("Machine")
    print(f"- CPU: {model}, {os.cpu_count()} cores")
    print(f"- RAM: {mem_kib / 1024 / 1024:.1f} GiB")
    print(f"- Linux {platform.release()}")
    print(f"- load average at start: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    for name, v in versions.items():
        print(f"- {name}: {v}")
    print(f"- started {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")


# ---------------------------------------------------------------------------------------------
# wrk.


def wrk(url, connections, seconds, headers=(), script=None, script_args=(), latency=False):
    argv = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    for h in headers:
        argv += ["-H", h]
    if latency:
        argv.append("--latency")
    if script:
        argv += ["-s", script]
    argv.append(url)
    if script_args:
        argv += ["--", *script_args]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if p.returncode != 0:
        raise RuntimeError(f"wrk failed: {p.stderr}{p.stdout}")
    out = p.stdout
    if "Non-2xx or 3xx responses" in out:
        raise RuntimeError(f"wrk got failed answers:\n{out}")
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(int(x) for x in m.groups()) if m else 0
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    result = {"rate": rate, "requests": total, "socket_errors": errors, "raw": out}
    if latency and total == 0:
        raise RuntimeError(f"wrk got no answer from {url} within {seconds} s:\n{out}")
    if latency:
        for pct in ("50", "75", "90", "99"):
            m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
            value = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
            result[f"p{pct}"] = value
    return result


# ---------------------------------------------------------------------------------------------
# OpenBao.


class OpenBao:
    def __init__(self, scratch):
        self.token = "root-" + os.urandom(12).hex()
        for _attempt in range(3):
            port = free_port()
            try:
                socket.create_server(("127.0.0.1", port + 1)).close()
            except OSError:
                continue
            home = os.path.join(scratch, "bao-home")
            os.makedirs(home, exist_ok=True)
            env = {
                k: v
                for k, v in os.environ.items()
                if not (k.startswith(("VAULT_", "BAO_")) or k.lower().endswith("_proxy"))
            }
            env["HOME"] = home
            self.log = open(os.path.join(scratch, "bao.log"), "wb")
            self.proc = start(
                [
                    "bao", "server", "-dev", "-dev-no-store-token",
                    f"-dev-root-token-id={self.token}",
                    f"-dev-listen-address=127.0.0.1:{port}", "-log-level=warn",
                ],
                env=env, cwd=scratch, stdout=self.log, stderr=subprocess.STDOUT,
            )
            self.url = f"http://127.0.0.1:{port}"
            self.port = port
            try:
                wait_http(f"{self.url}/v1/sys/health", 60, self.proc)
                return
            except RuntimeError:
                stop(self.proc)
        raise RuntimeError("the OpenBao dev server did not start (see bao.log)")

    def seed(self, prefix, n, threads=16):
        """Writes n secrets (a value and custom_metadata expires_at) under prefix/fNN/; returns the
        seconds it took. HTTP API, one keep-alive connection per thread."""
        local = threading.local()
        headers = {"X-Vault-Token": self.token, "Content-Type": "application/json"}

        def post(path, body):
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            conn.request("POST", path, body=json.dumps(body), headers=headers)
            r = conn.getresponse()
            r.read()
            if r.status not in (200, 204):
                raise RuntimeError(f"POST {path}: HTTP {r.status}")

        def one(i):
            path = secret_path(prefix, i)
            post(f"/v1/secret/data/{path}", {"data": {"token": f"bench-value-{i:06d}"}})
            expires = datetime.datetime.fromtimestamp(NOW + (i % 400) * DAY - 3 * DAY, datetime.timezone.utc)
            post(
                f"/v1/secret/metadata/{path}",
                {"custom_metadata": {"expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "owner": "bench"}},
            )

        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(one, range(n), chunksize=64):
                pass
        return time.perf_counter() - t0

    def token_with_policy(self, name, hcl):
        """A token holding only the policy `name` (written from `hcl`)."""
        headers = {"X-Vault-Token": self.token, "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            for path, body in ((f"/v1/sys/policies/acl/{name}", {"policy": hcl}),
                               ("/v1/auth/token/create", {"policies": [name], "ttl": "24h"})):
                conn.request("POST", path, body=json.dumps(body), headers=headers)
                r = conn.getresponse()
                answer = r.read()
                if r.status not in (200, 204):
                    raise RuntimeError(f"POST {path}: HTTP {r.status}")
            return json.loads(answer)["auth"]["client_token"]
        finally:
            conn.close()


def secret_path(prefix, i):
    return f"{prefix}/f{i % 100:02d}/s{i:06d}"


def part_vault(args, scratch):
    section("Vault/OpenBao scan")
    bao = OpenBao(scratch)
    print(f"OpenBao dev server {bao.url} (in memory, root token), credwatch concurrency 16, "
          f"vault_scan.py 16 threads, wrk -t2, {args.wrk_seconds} s per wrk run.\n")
    env = dict(os.environ, BAO_TOKEN=bao.token)
    for k in ("VAULT_TOKEN", "VAULT_ADDR", "BAO_ADDR", "VAULT_NAMESPACE", "BAO_NAMESPACE"):
        env.pop(k, None)
    token_header = f"X-Vault-Token: {bao.token}"
    # The policy credwatch's rendered one was before it used OpenBao's detailed listing, and all
    # a HashiCorp Vault server offers: a LIST per folder and a metadata read per secret.
    # A policy token costs the server about twice what the root token does per request (its
    # ACL is evaluated every time), so this contender is compared with wrk holding the same token.
    per_secret_token = bao.token_with_policy(
        "per-secret", 'path "secret/metadata/*" { capabilities = ["list", "read"] }')
    per_secret_env = dict(env, BAO_TOKEN=per_secret_token)
    # What a run costs with one secret: the process, the login, one LIST and one GET; subtracted
    # in the scale curve as the run's own cost.
    bao.seed("bench1", 1)
    base_config = os.path.join(scratch, "vault-1.toml")
    with open(base_config, "w") as f:
        f.write(f'[[source]]\nkind = "vault"\nname = "vault"\naddress = "{bao.url}"\nmount = "secret"\nprefix = "bench1"\n')
    base = {
        "textfile": min(measure([args.credwatch, "--config", base_config, "textfile", "--path",
                                 os.path.join(scratch, "vault-1.prom")], env=env)[1] for _ in range(3)),
        "check --output json": min(measure([args.credwatch, "--config", base_config, "check", "--output", "json"],
                                           env=env, ok=(0, 1, 2))[1] for _ in range(3)),
    }
    rows = []
    for n in args.vault_sizes:
        prefix = f"bench{n}"
        seconds = bao.seed(prefix, n)
        print(f"seeded {n} secrets (2 writes each) in {seconds:.1f} s ({2 * n / seconds:.0f} writes/s)", flush=True)
        paths_file = os.path.join(scratch, f"paths-{n}.txt")
        with open(paths_file, "w") as f:
            for i in range(n):
                f.write(secret_path(prefix, i) + "\n")
        folders = sorted({secret_path(prefix, i).rsplit("/", 1)[0] for i in range(n)})
        folders_file = os.path.join(scratch, f"folders-{n}.txt")
        with open(folders_file, "w") as f:
            f.write("".join(folder + "\n" for folder in folders))
        config = os.path.join(scratch, f"vault-{n}.toml")
        with open(config, "w") as f:
            f.write(
                f'[[source]]\nkind = "vault"\nname = "vault"\naddress = "{bao.url}"\nmount = "secret"\n'
                f'prefix = "{prefix}"\nconcurrency = 16\ntimeout = "30s"\n'
            )
        prom = os.path.join(scratch, f"vault-{n}.prom")
        json_out = os.path.join(scratch, f"vault-{n}.json")
        py_out = os.path.join(scratch, f"vault-{n}.txt")
        cw = args.credwatch
        commands = {
            "textfile": ([cw, "--config", config, "textfile", "--path", prom], None, (0,)),
            "check --output json": ([cw, "--config", config, "check", "--output", "json"], json_out, (0, 1, 2)),
            "textfile, per-secret reads": ([cw, "--config", config, "textfile", "--path", prom], None, (0,)),
            "vault_scan.py": (
                [sys.executable, os.path.join(BENCHES, "vault_scan.py"), "--address", bao.url, "--prefix", prefix],
                py_out, (0,),
            ),
        }
        # One unmeasured run of each (caches, the server's first touches) up to 10k; above, a run
        # takes about a minute, and the first round's outputs are checked instead.
        env_of = {name: per_secret_env if "per-secret" in name else env for name in commands}
        if n <= 10_000:
            for name, (argv, out, ok) in commands.items():
                measure(argv, env=env_of[name], stdout=out, ok=ok)
            check_counts(n, prom, json_out, py_out)
        rounds = args.rounds if n <= 10_000 else max(1, min(args.rounds, 2))
        samples = {k: [] for k in ["wrk c=4", "wrk c=16", "wrk detailed c=16", "wrk per-secret c=16", *commands]}
        def capacity():
            for c in (4, 16):
                w = wrk(bao.url, c, args.wrk_seconds, [token_header],
                        os.path.join(BENCHES, "wrk_metadata.lua"), [paths_file, "secret"])
                samples[f"wrk c={c}"].append((w["rate"], 0))
            # The same server through the listing credwatch uses, in secrets per second.
            w = wrk(bao.url, 16, args.wrk_seconds, [token_header],
                    os.path.join(BENCHES, "wrk_metadata.lua"), [folders_file, "secret", "detailed"])
            # Each request is one folder's first page: up to 250 secrets (as credwatch asks).
            samples["wrk detailed c=16"].append((w["rate"] * min(250, n / len(folders)), 0))
            w = wrk(bao.url, 16, args.wrk_seconds, [f"X-Vault-Token: {per_secret_token}"],
                    os.path.join(BENCHES, "wrk_metadata.lua"), [paths_file, "secret"])
            samples["wrk per-secret c=16"].append((w["rate"], 0))

        for r in range(rounds):
            capacity()
            for name, (argv, out, ok) in commands.items():
                wall, kib = measure(argv, env=env_of[name], stdout=out, ok=ok)
                samples[name].append((wall, kib))
                if r == 0 and "per-secret" in name:
                    check_series(n, prom)
            if r == 0 and n > 10_000:
                check_counts(n, prom, json_out, py_out)
            print(f"  round {r + 1}/{rounds}: " + ", ".join(
                f"{k} {v[-1][0]:.0f}/s" if k.startswith("wrk") else f"{k} {v[-1][0]:.2f} s {v[-1][1] / 1024:.1f} MiB"
                for k, v in samples.items()), flush=True)
        # The capacity once more after the last round: each round's contenders are compared with
        # the mean of the wrk runs just before and just after them.
        capacity()
        rows.append((n, rounds, samples))
        report_vault_size(n, rounds, samples)
    stop(bao.proc)
    print("\n### Scale curve (Vault)\n")
    print(f"µs per secret is the whole run's wall time over the secrets; KiB per secret is the peak RSS above "
          f"that of a run over 1 secret ({base['textfile'] / 1024:.1f} MiB textfile, "
          f"{base['check --output json'] / 1024:.1f} MiB check --output json), over the secrets.\n")
    print("| secrets | textfile µs/secret | textfile KiB/secret | check json µs/secret | check json KiB/secret |")
    print("|---|---|---|---|---|")
    for n, _rounds, s in rows:
        t = median([w for w, _ in s["textfile"]])
        tk = max(k for _, k in s["textfile"]) - base["textfile"]
        c = median([w for w, _ in s["check --output json"]])
        ck = max(k for _, k in s["check --output json"]) - base["check --output json"]
        print(f"| {n} | {t * 1e6 / n:.0f} | {tk / n:.2f} | {c * 1e6 / n:.0f} | {ck / n:.2f} |")


def check_series(n, prom):
    series = sum(1 for ln in open(prom) if ln.startswith("credwatch_credential_expiry_timestamp_seconds{"))
    if series != n:
        raise RuntimeError(f"expected {n} secrets: textfile has {series} expiry series")


def check_counts(n, prom, json_out, py_out):
    series = sum(1 for ln in open(prom) if ln.startswith("credwatch_credential_expiry_timestamp_seconds{"))
    doc = json.load(open(json_out))
    creds = doc.get("credentials", doc) if isinstance(doc, dict) else doc
    lines = sum(1 for ln in open(py_out) if ln.strip() and " unknown " not in ln)
    if series != n or len(creds) != n or lines != n:
        raise RuntimeError(f"expected {n} secrets: textfile has {series} expiry series, check json "
                           f"{len(creds)} credentials, vault_scan.py {lines} lines")


def bracketing(s, c):
    """Per round, the server's capacity at c connections: the mean of the wrk runs just before
    and just after the round's contenders (there is one more wrk run than rounds). `c` may
    also name the samples ("wrk detailed c=16")."""
    rates = [r for r, _ in s[c if isinstance(c, str) else f"wrk c={c}"]]
    return [(a + b) / 2 for a, b in zip(rates, rates[1:])]


def report_vault_size(n, rounds, s):
    print(f"\n### {n} secrets, {rounds} rounds (median, min–max)\n")
    print("| what | time | secrets/s | peak RSS |")
    print("|---|---|---|---|")
    for c in (4, 16):
        rates = [r for r, _ in s[f"wrk c={c}"]]
        print(f"| wrk c={c} (the server's capacity, metadata reads) | | {spread(rates, '{:.0f}')} | |")
    rates = [r for r, _ in s["wrk detailed c=16"]]
    print(f"| wrk c=16, detailed listing (secrets listed) | | {spread(rates, '{:.0f}')} | |")
    rates = [r for r, _ in s["wrk per-secret c=16"]]
    print(f"| wrk c=16, metadata reads with the per-secret policy's token | | {spread(rates, '{:.0f}')} | |")
    for name in ("textfile", "check --output json", "textfile, per-secret reads", "vault_scan.py"):
        walls = [w for w, _ in s[name]]
        rates = [n / w for w in walls]
        kibs = [k / 1024 for _, k in s[name]]
        print(f"| {name} | {spread(walls, '{:.2f}')} s | {spread(rates, '{:.0f}')} | {spread(kibs, '{:.1f}')} MiB |")
    print()
    for name in ("textfile", "check --output json", "textfile, per-secret reads"):
        walls = [w for w, _ in s[name]]
        if "per-secret" in name:
            # Context, not a goal: vault_scan.py and the goal's wrk runs hold the root token,
            # which costs the server about half what a policy token does per request.
            ratios = [(n / w) / cap for w, cap in zip(walls, bracketing(s, "wrk per-secret c=16"))]
            print(f"- {name} throughput / wrk c=16 with the same token: {spread(ratios)}")
            continue
        for c in (4, 16):
            ratios = [(n / w) / cap for w, cap in zip(walls, bracketing(s, c))]
            print(f"- {name} throughput / wrk c={c}: {spread(ratios)}")
        ratios = [(n / w) / cap for w, cap in zip(walls, bracketing(s, "wrk detailed c=16"))]
        print(f"- {name} throughput / wrk c=16 on the detailed listing: {spread(ratios)}")
        vs_py = [w / p for w, (p, _) in zip(walls, s["vault_scan.py"])]
        print(f"- {name} time / vault_scan.py time: {spread(vs_py)}")
    print()
    for name in ("textfile", "check --output json"):
        walls = [w for w, _ in s[name]]
        ratios = [(n / w) / cap for w, cap in zip(walls, bracketing(s, 16))]
        goal(f"vault {n} {name} throughput vs wrk c=16", median(ratios), 0.90, True,
             detail=f"min–max {min(ratios):.2f}–{max(ratios):.2f}")
        vs_py = [w / p for w, (p, _) in zip(walls, s["vault_scan.py"])]
        goal(f"vault {n} {name} time vs vault_scan.py", median(vs_py), 0.5, False,
             unit="×", detail=f"min–max {min(vs_py):.2f}–{max(vs_py):.2f}")
        if n == 10_000:
            goal(f"vault {n} {name} peak RSS", max(k for _, k in s[name]) / 1024, 32, False, unit=" MiB")


# ---------------------------------------------------------------------------------------------
# Directory source.


def make_directory(scratch, n):
    """A ConfigMap-style directory of n files (name = credential, content = expiry in unix
    seconds) and a config reading it. Returns (dir, config, input bytes)."""
    base = os.path.join(scratch, f"dir-{n}")
    cm = os.path.join(base, "cm")
    config = os.path.join(base, "credwatch.toml")
    if os.path.exists(config):
        return cm, config, int(open(os.path.join(base, "bytes")).read())
    os.makedirs(cm)
    total = 0
    for i in range(n):
        name = f"credential-{i:06d}"
        content = f"{NOW + 30 * DAY + (i % 300) * DAY}\n"
        with open(os.path.join(cm, name), "w") as f:
            f.write(content)
        total += len(name) + len(content)
    with open(config, "w") as f:
        f.write('[[source]]\nkind = "directory"\nname = "configmap"\npath = "cm"\nlabels = { team = "platform" }\n')
    with open(os.path.join(base, "bytes"), "w") as f:
        f.write(str(total))
    return cm, config, total


def part_directory(args, scratch):
    section("Directory source")
    floor = args.floor
    cw = args.credwatch
    # What a run costs with (almost) nothing to read: the process, its libraries, the config.
    _, base_config, _ = make_directory(scratch, 1)
    base = {}
    for name, argv in (
        ("textfile", [cw, "--config", base_config, "textfile", "--path", os.path.join(scratch, "base.prom")]),
        ("check --output json", [cw, "--config", base_config, "check", "--output", "json"]),
    ):
        base[name] = min(measure(argv, ok=(0, 1, 2))[1] for _ in range(3))
    print(f"A run over 1 file: peak RSS {base['textfile'] / 1024:.1f} MiB (textfile), "
          f"{base['check --output json'] / 1024:.1f} MiB (check --output json); subtracted below as the "
          f"process's own cost.\n")
    curve = []
    for n in args.dir_sizes:
        cm, config, input_bytes = make_directory(scratch, n)
        out = os.path.join(scratch, f"dir-{n}")
        commands = {
            "floor_dir (C)": ([floor, cm, os.path.join(out, "floor.txt")], None, (0,)),
            "textfile": ([cw, "--config", config, "textfile", "--path", os.path.join(out, "out.prom")], None, (0,)),
            "check --output json": ([cw, "--config", config, "check", "--output", "json"], os.path.join(out, "out.json"), (0, 1, 2)),
        }
        for argv, o, ok in commands.values():
            measure(argv, stdout=o, ok=ok)
        series = sum(1 for ln in open(os.path.join(out, "out.prom")) if ln.startswith("credwatch_credential_expiry_timestamp_seconds{"))
        if series != n:
            raise RuntimeError(f"textfile wrote {series} expiry series for {n} files")
        samples = {k: [] for k in commands}
        for _ in range(args.rounds):
            for name, (argv, o, ok) in commands.items():
                samples[name].append(measure(argv, stdout=o, ok=ok))
        print(f"### {n} files ({input_bytes / MiB:.1f} MiB of names and contents), {args.rounds} rounds\n")
        print("| what | time | µs per file | peak RSS | KiB per credential beyond the input |")
        print("|---|---|---|---|---|")
        for name, s in samples.items():
            walls = [w for w, _ in s]
            peak = max(k for _, k in s)
            beyond = ""
            if name in base:
                beyond = f"{(peak - base[name] - input_bytes / 1024) / n:.2f}"
            print(f"| {name} | {spread(walls, '{:.3f}')} s | {median(walls) * 1e6 / n:.1f} | {peak / 1024:.1f} MiB | {beyond} |")
        print()
        floor_walls = [w for w, _ in samples["floor_dir (C)"]]
        for name in ("textfile", "check --output json"):
            walls = [w for w, _ in samples[name]]
            ratios = [w / f for w, f in zip(walls, floor_walls)]
            print(f"- {name} / floor: {spread(ratios)}")
        print()
        for name in ("textfile", "check --output json"):
            walls = [w for w, _ in samples[name]]
            ratios = [w / f for w, f in zip(walls, floor_walls)]
            peak = max(k for _, k in samples[name])
            per = (peak - base[name] - input_bytes / 1024) / n
            curve.append((n, name, median(walls) * 1e6 / n, per, peak / n))
            if n == max(args.dir_sizes):
                goal(f"directory {n} {name} time vs the C floor", median(ratios), 2.0, False, unit="×",
                     detail=f"min–max {min(ratios):.2f}–{max(ratios):.2f}")
                goal(f"directory {n} {name} memory per credential beyond the input", per, 1.0, False,
                     unit=" KiB", detail=f"peak {peak / 1024:.1f} MiB")
    print("\n### Scale curve (directory)\n")
    print("| files | command | µs per credential | KiB per credential beyond the input | peak KiB / credential |")
    print("|---|---|---|---|---|")
    for n, name, us, per, raw in curve:
        print(f"| {n} | {name} | {us:.1f} | {per:.2f} | {raw:.2f} |")


# ---------------------------------------------------------------------------------------------
# /metrics.


class Serve:
    def __init__(self, credwatch, config, interval):
        self.proc = start(
            [credwatch, "--config", config, "serve", "--listen", "127.0.0.1:0", "--interval", interval],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        line = self.proc.stdout.readline().decode()
        m = re.match(r"serving http://([^/]+)/", line)
        if not m:
            stop(self.proc)
            raise RuntimeError(f"credwatch serve said {line!r}")
        self.base = f"http://{m.group(1)}"
        wait_http(f"{self.base}/-/ready", 120, self.proc)
        self.url = f"{self.base}/metrics"

    def peak_rss_mib(self):
        for ln in open(f"/proc/{self.proc.pid}/status"):
            if ln.startswith("VmHWM:"):
                return int(ln.split()[1]) / 1024
        return 0.0


class NodeExporter:
    def __init__(self, directory):
        port = free_port()
        self.proc = start(
            [
                "prometheus-node-exporter", "--collector.disable-defaults", "--collector.textfile",
                f"--collector.textfile.directory={directory}", f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=error",
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}/metrics"
        wait_http(self.url, 30, self.proc)


class Nginx:
    """nginx serving `credwatch textfile`'s text as a static file: sendfile, keep-alive, and a
    gzip copy made beforehand (`gzip_static`), so each answer costs nginx no work beyond the
    copy. No exporter can do less per scrape: its latency under the same wrk is the machine's."""

    def __init__(self, scratch, prom):
        import gzip as gz

        home = os.path.join(scratch, "nginx")
        www = os.path.join(home, "www")
        os.makedirs(www, exist_ok=True)
        text = open(prom, "rb").read()
        with open(os.path.join(www, "metrics"), "wb") as f:
            f.write(text)
        with open(os.path.join(www, "metrics.gz"), "wb") as f:
            f.write(gz.compress(text, 6))
        port = free_port()
        temp = "\n".join(f"  {k}_temp_path {home}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # Run as root (the bench's scratch folder is private), the workers would otherwise
        # switch to an unprivileged user who cannot read it.
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = os.path.join(home, "nginx.conf")
        with open(conf, "w") as f:
            f.write(
                f"{user}daemon off;\nworker_processes 2;\npid {home}/nginx.pid;\n"
                f"error_log {home}/error.log;\nevents {{ worker_connections 256; }}\n"
                f"http {{\n  access_log off;\n{temp}\n  sendfile on;\n  tcp_nopush on;\n"
                f"  keepalive_requests 10000;\n  default_type text/plain;\n"
                f"  server {{\n    listen 127.0.0.1:{port};\n    root {www};\n    gzip_static on;\n  }}\n}}\n"
            )
        self.proc = start([nginx_binary(), "-e", f"{home}/error.log", "-p", home, "-c", conf],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}/metrics"
        wait_http(self.url, 30, self.proc)


def nginx_binary():
    return shutil.which("nginx") or "/usr/sbin/nginx"


def answer_size(url, gzip):
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip else {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return len(r.read())


NGINX = "nginx, the same text as a static file"


def part_metrics(args, scratch):
    n = 10_000
    section(f"/metrics at {n} credentials")
    _cm, config, _ = make_directory(scratch, n)
    textdir = os.path.join(scratch, "node-exporter-textfile")
    os.makedirs(textdir, exist_ok=True)
    prom = os.path.join(textdir, "credwatch.prom")
    measure([args.credwatch, "--config", config, "textfile", "--path", prom])
    series = sum(1 for ln in open(prom) if ln and not ln.startswith("#"))
    seconds = args.wrk_seconds
    print(f"wrk -t2 -c4 -d{seconds}s --latency (node_exporter: -d{2 * seconds}s), {args.metrics_rounds} rounds per row (median of the p50/p99 "
          f"of each round, min–max); the textfile that node_exporter and nginx serve is `credwatch textfile`'s for the "
          f"same {n} credentials ({series} series).\n")
    targets = [
        ("credwatch serve, idle (interval 1h)", lambda: Serve(args.credwatch, config, "1h")),
        ("credwatch serve, refreshing every second", lambda: Serve(args.credwatch, config, "1s")),
        ("node_exporter textfile collector", lambda: NodeExporter(textdir)),
        (NGINX, lambda: Nginx(scratch, prom)),
    ]
    results = {}
    sizes = {}
    rss = {}
    for r in range(args.metrics_rounds):
        for name, make in targets:
            server = make()
            try:
                for enc in ("identity", "gzip"):
                    if (name, enc) not in sizes:
                        sizes[(name, enc)] = answer_size(server.url, enc == "gzip")
                    headers = ["Accept-Encoding: gzip"] if enc == "gzip" else []
                    # node_exporter parses the whole textfile on every scrape (near a second
                    # here): a longer run gives it enough answers for a percentile.
                    w = wrk(server.url, 4, 2 * seconds if isinstance(server, NodeExporter) else seconds,
                            headers, latency=True)
                    results.setdefault((name, enc), []).append(w)
                if isinstance(server, Serve):
                    rss.setdefault(name, []).append(server.peak_rss_mib())
            finally:
                stop(server.proc)
        print(f"  round {r + 1}/{args.metrics_rounds} done", flush=True)
    print("\n| server | encoding | answer | scrapes | scrapes/s | p50 | p99 | socket errors |")
    print("|---|---|---|---|---|---|---|---|")
    for (name, enc), ws in results.items():
        size = sizes[(name, enc)]
        size_s = f"{size / MiB:.2f} MiB" if size > MiB else f"{size / 1024:.0f} KiB"
        print(f"| {name} | {enc} | {size_s} | {sum(w['requests'] for w in ws)} | {spread([w['rate'] for w in ws], '{:.0f}')} | "
              f"{spread([w['p50'] for w in ws])} ms | {spread([w['p99'] for w in ws])} ms | "
              f"{sum(w['socket_errors'] for w in ws)} |")
    print()
    for name, v in rss.items():
        print(f"- {name}: peak RSS {max(v):.1f} MiB")
    print()
    for (name, enc), (label, limit) in {
        ("credwatch serve, idle (interval 1h)", "identity"): ("identity p99, idle", 10.0),
        ("credwatch serve, refreshing every second", "identity"): ("identity p99, refreshing every second", 10.0),
        ("credwatch serve, refreshing every second", "gzip"): ("gzip p99, refreshing every second", 2.0),
    }.items():
        p99 = [w["p99"] for w in results[(name, enc)]]
        floor = [w["p99"] for w in results[(NGINX, enc)]]
        ratios = [a / b for a, b in zip(p99, floor)]
        goal(f"/metrics {n} {label}", median(p99), limit, False, unit=" ms",
             detail=f"min–max {min(p99):.2f}–{max(p99):.2f}; nginx's p99 in the same rounds "
                    f"{median(floor):.2f} ms, credwatch / nginx {spread(ratios)}")


# ---------------------------------------------------------------------------------------------
# Inventory.


def part_inventory(args, scratch):
    section("Inventory of `[[credential]]` entries")
    rows = []
    for n in args.inventory_sizes:
        path = os.path.join(scratch, f"inventory-{n}.toml")
        with open(path, "w") as f:
            for i in range(n):
                minted = datetime.datetime.fromtimestamp(NOW - (i % 360) * DAY, datetime.timezone.utc)
                f.write(
                    f'[[credential]]\nname = "credential-{i:06d}"\nminted_at = "{minted:%Y-%m-%dT%H:%M:%SZ}"\n'
                    f'labels = {{ team = "team-{i % 17}" }}\n\n'
                )
        size = os.path.getsize(path)
        argv = [args.credwatch, "--config", path, "check"]
        measure(argv, ok=(0, 1, 2))
        s = [measure(argv, ok=(0, 1, 2)) for _ in range(args.rounds)]
        walls = [w for w, _ in s]
        peak = max(k for _, k in s)
        rows.append((n, size, walls, peak))
    print("| entries | TOML | `check` time | peak RSS | KiB per entry |")
    print("|---|---|---|---|---|")
    for n, size, walls, peak in rows:
        print(f"| {n} | {size / MiB:.1f} MiB | {spread(walls, '{:.3f}')} s | {peak / 1024:.1f} MiB | {peak / n:.2f} |")
    print()
    for n, _size, _walls, peak in rows:
        if n == 10_000:
            goal(f"inventory {n} check peak RSS", peak / 1024, 64, False, unit=" MiB")
    if len(rows) >= 2:
        (n0, _, _, p0), (n1, _, _, p1) = rows[0], rows[-1]
        slope = (p1 - p0) / (n1 - n0)
        print(f"- growth {n0}→{n1}: {slope:.2f} KiB per entry; at {n1}: {p1 / 1024:.1f} MiB, "
              f"{p1 / 1024 / (p0 / 1024):.2f}× the {n0} peak for {n1 / n0:.0f}× the entries")
        # Linear: the peak at the largest size is no more than what the smaller size's per-entry
        # cost predicts (a process's fixed cost makes it smaller, not larger).
        goal(f"inventory {n1} peak vs {n1 // n0}× the {n0} peak (linear)", p1 / (p0 * n1 / n0), 1.0, False, unit="×")


# ---------------------------------------------------------------------------------------------
# In-process assess + encode.


def part_memory(args, _scratch):
    section("In-process assess + encode")
    if not args.perf_bin:
        print("_the `perf` bench binary was not given (--perf-bin); skipped._")
        return
    print("| credentials | assess | encode | µs per credential | text | peak RSS | input alone |")
    print("|---|---|---|---|---|---|---|")
    peaks = {}
    for n in args.memory_sizes:
        out = subprocess.run([args.perf_bin, "--child-assess", str(n)], capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        v = [float(x) for x in out.stdout.split()]
        assess_ms, encode_ms, text_bytes, peak, _base, built = v[:6]
        peaks[n] = peak
        print(f"| {n} | {assess_ms:.1f} ms | {encode_ms:.1f} ms | {(assess_ms + encode_ms) * 1000 / n:.2f} | "
              f"{text_bytes / MiB:.1f} MiB | {peak / 1024:.1f} MiB | {built / 1024:.1f} MiB |")
    print()
    if 100_000 in peaks:
        goal("in-process assess + encode 100000 peak RSS", peaks[100_000] / 1024, 128, False, unit=" MiB")


# ---------------------------------------------------------------------------------------------
# Push vs the shell CronJob.

SHELL_CRONJOB = r"""set -eu
dir=$1
url=$2
body=""
for f in "$dir"/*; do
  body="${body}claude_oauth_token_expiry_timestamp{path=\"$(basename "$f")\"} $(cat "$f")
"
done
body="${body}claude_oauth_expiry_monitor_last_push_timestamp $(date +%s)
"
printf '%s' "$body" | curl -sS --fail --max-time 30 -X PUT --data-binary @- "$url/metrics/job/claude-oauth-expiry-monitor"
"""


def part_push(args, scratch):
    section("Push vs the shell CronJob")
    port = free_port()
    pg = start(
        ["prometheus-pushgateway", f"--web.listen-address=127.0.0.1:{port}", "--persistence.file=", "--log.level=error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/-/ready", 30, pg)
    script = os.path.join(scratch, "push-expiry.sh")
    with open(script, "w") as f:
        f.write(SHELL_CRONJOB)
    example = os.path.join(ROOT, "examples", "migrate-from-shell-cronjob")
    migration = open(os.path.join(example, "credwatch.toml")).read()
    cases = [("3 files (examples/migrate-from-shell-cronjob)", os.path.join(example, "credwatch.toml"),
              os.path.join(example, "expiry"))]
    for n in (100,):
        cm, _config, _ = make_directory(scratch, n)
        config = os.path.join(scratch, f"push-{n}.toml")
        with open(config, "w") as f:
            f.write(migration.replace('path = "expiry"', f'path = "{cm}"'))
        cases.append((f"{n} files", config, cm))
    runs = args.push_runs
    print(f"Each command {runs} times, interleaved; wall time median (min–max), peak RSS the largest process's "
          f"(GNU time `%M`: for the shell that is curl, not the sum of sh, cat, basename, date and curl).\n")
    print("| input | credwatch push | shell CronJob | shell / credwatch | credwatch RSS | shell RSS |")
    print("|---|---|---|---|---|---|")
    for label, config, directory in cases:
        cw = [args.credwatch, "--config", config, "push", "--pushgateway-url", url]
        sh = ["sh", script, directory, url]
        measure(cw)
        measure(sh)
        a, b = [], []
        for _ in range(runs):
            a.append(measure(cw))
            b.append(measure(sh))
        aw, bw = [w for w, _ in a], [w for w, _ in b]
        ratios = [y / x for x, y in zip(aw, bw)]
        print(f"| {label} | {spread([w * 1000 for w in aw], '{:.1f}')} ms | {spread([w * 1000 for w in bw], '{:.1f}')} ms | "
              f"{spread(ratios)} | {max(k for _, k in a) / 1024:.1f} MiB | {max(k for _, k in b) / 1024:.1f} MiB |")
        goal(f"push {label}: credwatch time vs the shell CronJob", median(aw) / median(bw), 1.0, False, unit="×")
    stop(pg)


# ---------------------------------------------------------------------------------------------

PARTS = {
    "vault": part_vault,
    "metrics": part_metrics,
    "directory": part_directory,
    "inventory": part_inventory,
    "memory": part_memory,
    "push": part_push,
}


def main():
    p = argparse.ArgumentParser(description="credwatch next to tools it did not write (see scripts/bench --help)")
    p.add_argument("parts", nargs="*", default=["all"])
    p.add_argument("--credwatch", required=True)
    p.add_argument("--floor", required=True)
    p.add_argument("--perf-bin")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int)
    p.add_argument("--scratch")
    a = p.parse_args()
    sizes = [int(x) for x in a.parts if x.isdigit()]
    parts = [x for x in a.parts if not x.isdigit()] or ["all"]
    for x in parts:
        if x != "all" and x not in PARTS:
            p.error(f"unknown part `{x}`; expected all, {', '.join(PARTS)}, or sizes")
    chosen = list(PARTS) if "all" in parts else parts
    a.rounds = a.rounds or (2 if a.quick else 5)
    a.metrics_rounds = 1 if a.quick else min(3, a.rounds)
    a.wrk_seconds = 2 if a.quick else 5
    a.push_runs = 5 if a.quick else 21
    a.vault_sizes = sizes or ([1000] if a.quick else [1000, 10_000, 100_000])
    a.dir_sizes = sizes or ([10_000] if a.quick else [1000, 10_000, 100_000])
    a.inventory_sizes = sizes or ([10_000] if a.quick else [10_000, 60_000])
    a.memory_sizes = sizes or ([10_000] if a.quick else [10_000, 50_000, 100_000])

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    scratch = a.scratch or tempfile.mkdtemp(prefix="credwatch-bench-")
    t0 = time.monotonic()
    try:
        machine(a)
        for name in chosen:
            started = time.monotonic()
            PARTS[name](a, scratch)
            load = " ".join(open("/proc/loadavg").read().split()[:3])
            print(f"\n_{name}: {time.monotonic() - started:.0f} s, load average after it {load}_", flush=True)
    finally:
        stop_all()
        if not a.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    section("Verdicts")
    for line in GOALS:
        print(f"- {line}")
    print(f"\n_total {time.monotonic() - t0:.0f} s_")


if __name__ == "__main__":
    main()

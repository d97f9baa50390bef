#!/usr/bin/env python3
"""The Vault/OpenBao expiry scan an SRE would write: standard library only, a thread pool of 16,
one keep-alive connection per thread. It lists a KV v2 folder recursively, reads every secret's
metadata and prints one line per secret: path, custom_metadata expires_at, days left.

    BAO_TOKEN=... benches/vault_scan.py --address http://127.0.0.1:8200 --prefix bench

scripts/bench runs it next to `credwatch check` and `credwatch textfile` as the baseline to beat.
"""

import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import sys
import threading
import urllib.parse


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", default=os.environ.get("BAO_ADDR", "http://127.0.0.1:8200"))
    parser.add_argument("--mount", default="secret")
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--key", default="expires_at", help="the custom_metadata key")
    args = parser.parse_args()
    token = os.environ.get("BAO_TOKEN") or os.environ.get("VAULT_TOKEN")
    if not token:
        sys.exit("vault_scan.py: set BAO_TOKEN (or VAULT_TOKEN)")
    address = urllib.parse.urlsplit(args.address)
    if address.scheme != "http":
        sys.exit("vault_scan.py: only http:// addresses (this is a loopback bench)")

    local = threading.local()

    def get(path):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        conn.request("GET", path, headers={"X-Vault-Token": token})
        response = conn.getresponse()
        body = response.read()
        return response.status, body

    def list_folder(folder):
        status, body = get(f"/v1/{args.mount}/metadata/{urllib.parse.quote(folder)}?list=true")
        if status == 404:
            return []
        if status != 200:
            raise RuntimeError(f"LIST {folder}: HTTP {status}")
        return json.loads(body)["data"]["keys"]

    def metadata(path):
        status, body = get(f"/v1/{args.mount}/metadata/{urllib.parse.quote(path)}")
        if status != 200:
            return path, None, f"HTTP {status}"
        data = json.loads(body)["data"]
        return path, (data.get("custom_metadata") or {}).get(args.key), None

    now = datetime.datetime.now(datetime.timezone.utc)
    out = sys.stdout
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        secrets = []
        folders = [args.prefix.strip("/") + "/"]
        while folders:
            deeper = []
            for folder, keys in zip(folders, pool.map(list_folder, folders)):
                for key in keys:
                    (deeper if key.endswith("/") else secrets).append(folder + key)
            folders = deeper
        for path, expires_at, error in pool.map(metadata, secrets):
            if error is not None or expires_at is None:
                failed += 1
                out.write(f"{path} unknown {error or 'no ' + args.key}\n")
                continue
            try:
                when = datetime.datetime.fromisoformat(expires_at)
            except ValueError:
                when = datetime.datetime.fromtimestamp(int(expires_at), datetime.timezone.utc)
            days = (when - now).total_seconds() / 86400
            out.write(f"{path} {expires_at} {days:.1f}\n")
    out.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

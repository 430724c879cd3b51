"""Real-wire benchmark: `stackfleet deploy` to N accounts of a moto Organization.

    bench_moto.py STACKFLEET_BINARY [--accounts 200] [--concurrency 50]

Prints, for a first deploy (every stack created) and a second (every stack unchanged): wall time,
targets per second, AWS calls per target (from the report), and the process's peak memory.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import demo_org  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return moto, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    moto.kill()
    sys.exit("moto did not start")


def deploy(binary, endpoint, concurrency, report):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL=endpoint)
    env.pop("AWS_PROFILE", None)
    args = [binary, "deploy", "--spec", "examples/federation/rollout.yaml", "--poll-interval", "1",
            "--concurrency", str(concurrency), "--no-progress", "--report-json", report]
    started = time.monotonic()
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"stackfleet deploy exited {os.waitstatus_to_exitcode(status)}")
    with open(report) as source:
        outcomes = [o for o in json.load(source)["outcomes"] if o["kind"] != "Skipped"]
    calls = sum(o["awsCalls"] for o in outcomes) / len(outcomes)
    kinds = sorted({o["kind"] for o in outcomes})
    return wall, len(outcomes), calls, usage.ru_maxrss / 1024, "/".join(kinds)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    moto, endpoint = start_moto()
    try:
        with tempfile.TemporaryDirectory() as work:
            demo_org.seed(endpoint, os.path.join(work, "org.json"), f"plain:{args.accounts}")
            rows = []
            for label in ("first deploy", "second deploy"):
                rows.append((label, *deploy(args.binary, endpoint, args.concurrency, os.path.join(work, "r.json"))))
    finally:
        moto.kill()
        moto.wait()
    print(f"\nstackfleet deploy to {args.accounts} moto accounts, concurrency {args.concurrency}, poll interval 1 s")
    print("| run | outcomes | targets | wall time | targets/s | AWS calls/target | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for label, wall, targets, calls, rss, kinds in rows:
        print(f"| {label} | {kinds} | {targets} | {wall:.1f} s | {targets / wall:.1f} | {calls:.2f} | {rss:.1f} MiB |")


if __name__ == "__main__":
    main()

"""Real-wire benchmark: `stackfleet deploy` with its default flags against a minimal client, each
on a fresh moto Organization of N member accounts (the same seed), in one run.

    bench_moto.py STACKFLEET_BINARY [--accounts 200] [--concurrency N]

stackfleet deploys examples/federation/rollout.yaml with no flag but the report's (its poll
interval and concurrency are the document's and the defaults: 10 s, 16). The minimal client is
what a careful script would do and no more: list the accounts, then per account, at the same
concurrency, AssumeRole, CreateStack (the same template, parameters and capabilities), and
DescribeStacks at once and every second after until the stack is done; a second run does
AssumeRole and UpdateStack, which moto refuses with "No updates are to be performed" (else it
describes until done). Prints, per contender and run: wall time, the ratio to the minimal
client, AWS calls per target, and the emulator's busy share (moto's CPU time over the wall time).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.exceptions
import yaml

sys.path.insert(0, os.path.dirname(__file__))
import demo_org  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join(ROOT, "examples/federation/rollout.yaml")
POLL_SECONDS = 1.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "scripts/moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
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


def cpu_seconds(pid):
    """User and system CPU time of a process so far, every thread included."""
    with open(f"/proc/{pid}/stat") as source:
        fields = source.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stackfleet(binary, endpoint, concurrency, work):
    """Both runs of `stackfleet deploy`: (wall s, targets, calls/target, peak RSS MiB, kinds)."""
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL=endpoint)
    env.pop("AWS_PROFILE", None)
    report = os.path.join(work, "report.json")
    args = [binary, "deploy", "--spec", SPEC, "--no-progress", "--report-json", report]
    if concurrency is not None:
        args += ["--concurrency", str(concurrency)]
    started = time.monotonic()
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"stackfleet deploy exited {os.waitstatus_to_exitcode(status)}")
    with open(report) as source:
        outcomes = [o for o in json.load(source)["outcomes"] if o["kind"] != "Skipped"]
    calls = sum(o["awsCalls"] for o in outcomes) / len(outcomes)
    kinds = "/".join(sorted({o["kind"] for o in outcomes}))
    return wall, len(outcomes), calls, usage.ru_maxrss / 1024, kinds


class Minimal:
    """The calls a create (or an unchanged update) needs, nothing else, counted."""

    def __init__(self, endpoint, document):
        self.endpoint = endpoint
        self.stack = document["stackName"]
        with open(os.path.join(os.path.dirname(SPEC), document["template"]["file"])) as source:
            self.body = source.read()
        self.parameters = [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in document["parameters"].items()]
        self.capabilities = document["capabilities"]
        self.role = document["deployRole"]["name"]
        self.sts = demo_org.client(endpoint, "sts")
        self.lock = threading.Lock()
        self.calls = 0
        # Making clients is not safe in several threads at once; calling them is. One session, so
        # that the service model is loaded once.
        self.session = boto3.session.Session()
        self.making = threading.Lock()

    def count(self, n=1):
        with self.lock:
            self.calls += n

    def accounts(self):
        org = demo_org.client(self.endpoint, "organizations")
        me = org.describe_organization()["Organization"]["MasterAccountId"]
        pages = list(org.get_paginator("list_accounts").paginate())
        return [a["Id"] for page in pages for a in page["Accounts"] if a["Id"] != me and a["Status"] == "ACTIVE"]

    def cloudformation(self, account):
        role = f"arn:aws:iam::{account}:role/{self.role}"
        credentials = self.sts.assume_role(RoleArn=role, RoleSessionName="minimal")["Credentials"]
        self.count()
        with self.making:
            return self.session.client(
                "cloudformation", endpoint_url=self.endpoint, region_name=demo_org.REGION,
                aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"])

    def wait(self, cloudformation):
        while True:
            status = cloudformation.describe_stacks(StackName=self.stack)["Stacks"][0]["StackStatus"]
            self.count()
            if not status.endswith("_IN_PROGRESS"):
                return status
            time.sleep(POLL_SECONDS)

    def create(self, account):
        cloudformation = self.cloudformation(account)
        cloudformation.create_stack(StackName=self.stack, TemplateBody=self.body, Parameters=self.parameters,
                                    Capabilities=self.capabilities)
        self.count()
        return self.wait(cloudformation)

    def update(self, account):
        cloudformation = self.cloudformation(account)
        try:
            cloudformation.update_stack(StackName=self.stack, TemplateBody=self.body, Parameters=self.parameters,
                                        Capabilities=self.capabilities)
        except botocore.exceptions.ClientError as error:
            if "No updates are to be performed" in str(error):
                self.count()
                return "UNCHANGED"
            raise
        self.count()
        return self.wait(cloudformation)

    def run(self, action, concurrency):
        """(wall s, targets, calls/target, statuses) of one run over every member account. The
        listing's calls are not per target (nor are stackfleet's in its report); its time counts."""
        self.calls = 0
        started = time.monotonic()
        accounts = self.accounts()
        with ThreadPoolExecutor(concurrency) as pool:
            statuses = list(pool.map(action, accounts))
        wall = time.monotonic() - started
        return wall, len(accounts), self.calls / len(accounts), "/".join(sorted(set(statuses)))


def on_fresh_moto(accounts, work, runs):
    """Each of `runs` (a function of the endpoint) in turn on one freshly seeded moto: its answer
    and moto's busy share during it (CPU seconds over wall seconds)."""
    moto, endpoint = start_moto()
    try:
        demo_org.seed(endpoint, os.path.join(work, "org.json"), f"plain:{accounts}")
        measured = []
        for run in runs:
            before = cpu_seconds(moto.pid)
            answer = run(endpoint)
            measured.append((answer, (cpu_seconds(moto.pid) - before) / answer[0]))
        return measured
    finally:
        moto.kill()
        moto.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--concurrency", type=int, help="both contenders' (default: the document's)")
    args = parser.parse_args()
    with open(SPEC) as source:
        document = yaml.safe_load(source)
    concurrency = args.concurrency or document["concurrency"]

    rows = {}
    with tempfile.TemporaryDirectory() as work:
        def minimal(action):
            def run(endpoint):
                client = Minimal(endpoint, document)
                return client.run(getattr(client, action), concurrency)
            return run

        def ours(endpoint):
            return stackfleet(args.binary, endpoint, args.concurrency, work)

        # The minimal client first, then stackfleet: each on its own fresh server.
        rows["minimal client"] = on_fresh_moto(args.accounts, work, [minimal("create"), minimal("update")])
        rows["stackfleet deploy"] = on_fresh_moto(args.accounts, work, [ours, ours])

    flags = "no flags but --spec" if args.concurrency is None else f"--concurrency {args.concurrency}"
    print(f"\nstackfleet deploy ({flags}: poll interval 10 s, concurrency {concurrency}) against a minimal "
          f"client (AssumeRole, CreateStack, DescribeStacks at once then every {POLL_SECONDS:g} s; same "
          f"concurrency), each on a fresh moto Organization of {args.accounts} member accounts")
    print("| run | contender | outcomes | targets | wall time | ratio to minimal | AWS calls/target | moto busy | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|")
    for index, label in enumerate(("first deploy", "second deploy")):
        base = rows["minimal client"][index][0][0]
        for name, runs in rows.items():
            (wall, targets, calls, *rest), busy = runs[index]
            rss = f"{rest[0]:.1f} MiB" if len(rest) == 2 else ""
            kinds = rest[-1]
            print(f"| {label} | {name} | {kinds} | {targets} | {wall:.1f} s | {wall / base:.2f} | {calls:.2f} | "
                  f"{busy:.0%} | {rss} |")


if __name__ == "__main__":
    main()

"""Lambda footprint: a worker binary started under a minimal Lambda Runtime API (the HTTP API a
Lambda sandbox serves to a custom runtime), measuring init time (process start to its first
`next` request), the first invocations' durations (clients built in init, first calls against
moto), and the process's peak memory.

    bench_lambda.py WORKER_BINARY MOTO_ENDPOINT BUCKET

The cargo-lambda emulator serves the same API but reports none of these timings, hence this one.
"""

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INVOCATIONS = 3


def main():
    binary, moto, bucket = sys.argv[1:4]
    # Each invocation records a caught failure for a target: one S3 GET and one S3 PUT.
    events = [
        {"action": "fail", "run": "bench-lambda", "target": f"{n:012}:us-east-1",
         "error": {"Error": "Internal", "Cause": "benchmark"}}
        for n in range(1, INVOCATIONS + 1)
    ]
    marks = {}
    done = threading.Event()

    class Runtime(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if not self.path.endswith("/invocation/next"):
                self.send_error(404)
                return
            served = marks.setdefault("served", [])
            if "init" not in marks:
                marks["init"] = time.monotonic()
            if len(served) == len(events):
                done.set()
                time.sleep(30)  # the sandbox would freeze here; the benchmark kills the process
                return
            body = json.dumps(events[len(served)]).encode()
            served.append(time.monotonic())
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{len(served)}")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 300_000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:worker")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length)
            if "/response" in self.path:
                marks.setdefault("answered", []).append(time.monotonic())
            else:
                marks.setdefault("errors", []).append(payload.decode())
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_port}",
               AWS_LAMBDA_FUNCTION_NAME="worker", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
               AWS_LAMBDA_FUNCTION_VERSION="$LATEST", AWS_LAMBDA_LOG_STREAM_NAME="bench",
               AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/worker",
               AWS_ENDPOINT_URL=moto, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", STACKFLEET_BUCKET=bucket,
               RUST_LOG="warn")
    started = time.monotonic()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    finished = done.wait(60)
    process.kill()
    _, _, usage = os.wait4(process.pid, 0)
    server.shutdown()
    if not finished or marks.get("errors"):
        sys.exit(f"the worker did not answer {INVOCATIONS} invocations: {marks.get('errors')} "
                 f"{process.stderr.read().decode()[-2000:]}")
    durations = [(answered - served) * 1000 for served, answered in zip(marks["served"], marks["answered"])]
    print(json.dumps({
        "init_ms": (marks["init"] - started) * 1000,
        "invocation_ms": durations,
        "peak_rss_mib": usage.ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()

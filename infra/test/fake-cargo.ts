/**
 * jest's globalSetup: puts a fake `cargo` first on PATH for every test worker, before any of
 * them starts. It records each call in STACKFLEET_FAKE_CARGO_LOG and, for `cargo lambda build`,
 * leaves a bootstrap where cargo-lambda would, so that no test ever starts a real (twenty-minute)
 * build. It has to be here: a test file's process.env is a copy that child processes never see.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export default function installFakeCargo(): void {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'stackfleet-fake-cargo-'));
  const log = path.join(bin, 'calls.log');
  fs.writeFileSync(log, '');
  fs.writeFileSync(
    path.join(bin, 'cargo'),
    [
      '#!/usr/bin/env bash',
      'echo "$*" >> "$STACKFLEET_FAKE_CARGO_LOG"',
      'if [ "$1 $2" = "lambda build" ]; then',
      '  while [ $# -gt 0 ]; do',
      '    if [ "$1" = --lambda-dir ]; then mkdir -p "$2" && echo fake > "$2/bootstrap"; fi',
      '    shift',
      '  done',
      'fi',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  process.env.STACKFLEET_FAKE_CARGO_LOG = log;
  process.env.PATH = `${bin}${path.delimiter}${process.env.PATH}`;
}

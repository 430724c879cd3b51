/** jest's globalTeardown: removes what test/fake-cargo.ts installed. */
import * as fs from 'node:fs';
import * as path from 'node:path';

export default function removeFakeCargo(): void {
  const log = process.env.STACKFLEET_FAKE_CARGO_LOG;
  if (log) fs.rmSync(path.dirname(log), { recursive: true, force: true });
}

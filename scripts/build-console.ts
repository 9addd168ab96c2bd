/**
 * Bundles the console (console/ -> console/dist/, or the folder given: `build-console.ts OUT`) with
 * esbuild and prints the sizes. The API also does this at start when the bundle is stale.
 */
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildConsole, CONSOLE_DIST, CONSOLE_SRC } from '../api/console/bundle.ts';

const r = await buildConsole(CONSOLE_SRC, process.argv[2] ? resolve(process.argv[2]) : CONSOLE_DIST);
for (const [f, n] of Object.entries(r.bytes ?? {})) {
  if (/\.(br|gz)$/.test(f)) continue;
  const gz = gzipSync(readFileSync(join(r.dir!, f))).length;
  const br = r.bytes?.[`${f}.br`];
  console.log(`${f.padEnd(12)} ${(n / 1024).toFixed(1).padStart(8)} KiB   gzip ${(gz / 1024).toFixed(1).padStart(7)} KiB${br ? `   brotli (served) ${(br / 1024).toFixed(1).padStart(7)} KiB` : ''}`);
}
console.log(`built ${r.dir} in ${r.ms} ms`);

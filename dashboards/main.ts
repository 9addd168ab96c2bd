/**
 * npm run dashboards            writes dashboards/generated/*.json (provisioning) and dashboards/export/*.json
 *                               (import into an existing Grafana) from the code and config/park.yaml
 * npm run dashboards -- --check exits 1 when the committed files differ from what the code generates
 */
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PARK_MODEL, loadParkModel } from '../core/model-file.ts';
import { renderDashboards, renderExports } from './index.ts';

export const GENERATED_DIR = fileURLToPath(new URL('./generated', import.meta.url));
/** Not under generated/: Grafana's file provider would load these too, with an unbound datasource. */
export const EXPORT_DIR = fileURLToPath(new URL('./export', import.meta.url));

const check = process.argv.includes('--check');
// The committed JSON is generated from the repository's park model, never from PARK_MODEL.
const model = loadParkModel(DEFAULT_PARK_MODEL);
let bad = 0;
for (const [dir, files] of [[GENERATED_DIR, renderDashboards(model)], [EXPORT_DIR, renderExports(model)]] as const) {
  mkdirSync(dir, { recursive: true });
  const stale = readdirSync(dir).filter((f) => f.endsWith('.json') && !files.has(f));
  const changed = [...files].filter(([f, text]) => {
    try {
      return readFileSync(join(dir, f), 'utf8') !== text;
    } catch {
      return true;
    }
  }).map(([f]) => f);
  if (check) {
    if (changed.length || stale.length) {
      console.error(`dashboards: out of date in ${dir}: ${[...changed, ...stale].join(', ')}; run npm run dashboards`);
      bad++;
    } else console.log(`dashboards: ${files.size} files up to date (${dir})`);
  } else {
    for (const f of changed) writeFileSync(join(dir, f), files.get(f)!);
    for (const f of stale) unlinkSync(join(dir, f));
    console.log(`dashboards: ${files.size} files, ${changed.length} written, ${stale.length} removed (${dir})`);
  }
}
if (bad) process.exit(1);

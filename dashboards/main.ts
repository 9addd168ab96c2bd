/**
 * npm run dashboards            writes dashboards/generated/*.json from the code and config/park.yaml
 * npm run dashboards -- --check exits 1 when the committed files differ from what the code generates
 */
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PARK_MODEL, loadParkModel } from '../core/model-file.ts';
import { renderDashboards } from './index.ts';

export const GENERATED_DIR = fileURLToPath(new URL('./generated', import.meta.url));

const check = process.argv.includes('--check');
// The committed JSON is generated from the repository's park model, never from PARK_MODEL.
const files = renderDashboards(loadParkModel(DEFAULT_PARK_MODEL));
const stale = readdirSync(GENERATED_DIR).filter((f) => f.endsWith('.json') && !files.has(f));
const changed = [...files].filter(([f, text]) => {
  try {
    return readFileSync(join(GENERATED_DIR, f), 'utf8') !== text;
  } catch {
    return true;
  }
}).map(([f]) => f);
if (check) {
  if (changed.length || stale.length) {
    console.error(`dashboards: out of date: ${[...changed, ...stale].join(', ')}; run npm run dashboards`);
    process.exit(1);
  }
  console.log(`dashboards: ${files.size} files up to date`);
} else {
  for (const f of changed) writeFileSync(join(GENERATED_DIR, f), files.get(f)!);
  for (const f of stale) unlinkSync(join(GENERATED_DIR, f));
  console.log(`dashboards: ${files.size} files, ${changed.length} written, ${stale.length} removed (${GENERATED_DIR})`);
}

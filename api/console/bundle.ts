/**
 * The console's pages (console/) are bundled with esbuild into console/dist/ (index.html, app.js,
 * app.css). `ensureConsoleBundle` builds them when the bundle is missing or older than a source
 * file — the API calls it at start (api/main.ts), `scripts/build-console.ts` on demand. esbuild is
 * a devDependency: where it is not installed, a bundle built beforehand is served as it is.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const CONSOLE_SRC = resolve(import.meta.dirname, '../../console');
export const CONSOLE_DIST = join(CONSOLE_SRC, 'dist');
const OUTPUT = ['index.html', 'app.js'];

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'dist') continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** True when console/dist is missing a file or older than a source under console/. */
export function bundleStale(src = CONSOLE_SRC, dist = CONSOLE_DIST): boolean {
  if (!OUTPUT.every((f) => existsSync(join(dist, f)))) return true;
  const built = Math.min(...OUTPUT.map((f) => statSync(join(dist, f)).mtimeMs));
  return newest(src) > built;
}

export interface BundleResult { built: boolean; dir?: string; bytes?: Record<string, number>; ms?: number; why?: string }

export async function buildConsole(src = CONSOLE_SRC, dist = CONSOLE_DIST): Promise<BundleResult> {
  const t0 = performance.now();
  const esbuild = await import('esbuild');
  const { brotliCompressSync, constants, gzipSync } = await import('node:zlib');
  const { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } = await import('node:fs');
  // built aside, then each file renamed into place: an API serving dist never sends a half-written file
  const tmp = `${dist}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  try {
    await esbuild.build({
      entryPoints: { app: join(src, 'src/main.ts') },
      bundle: true, minify: true, format: 'esm', target: ['es2022'], outdir: tmp, sourcemap: false, legalComments: 'none',
      loader: { '.css': 'css' }, logLevel: 'silent',
    });
    copyFileSync(join(src, 'index.html'), join(tmp, 'index.html'));
    // pre-compressed copies, served by @fastify/static (preCompressed) to browsers that accept them
    for (const f of ['app.js', 'app.css']) {
      if (!existsSync(join(tmp, f))) continue;
      const body = readFileSync(join(tmp, f));
      writeFileSync(join(tmp, `${f}.br`), brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 9 } })); // 11 costs ~1.5 s more for 3 %
      writeFileSync(join(tmp, `${f}.gz`), gzipSync(body, { level: 9 }));
    }
    mkdirSync(dist, { recursive: true });
    const files = readdirSync(tmp);
    // index.html last: its mtime marks the bundle complete (bundleStale)
    for (const f of [...files.filter((x) => x !== 'index.html'), 'index.html']) renameSync(join(tmp, f), join(dist, f));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const bytes = Object.fromEntries(readdirSync(dist).map((f) => [f, statSync(join(dist, f)).size]));
  return { built: true, dir: dist, bytes, ms: Math.round(performance.now() - t0) };
}

/** Builds when stale; returns the folder to serve, or why there is none. */
export async function ensureConsoleBundle(src = CONSOLE_SRC, dist = CONSOLE_DIST): Promise<BundleResult> {
  const complete = OUTPUT.every((f) => existsSync(join(dist, f)));
  // a build without sources (e.g. dist/ of scripts/build.sh with console/dist copied in): serve it as it is
  if (!existsSync(join(src, 'src/main.ts'))) return complete ? { built: false, dir: dist } : { built: false, why: `no console sources in ${src} and no bundle in ${dist}` };
  if (!bundleStale(src, dist)) return { built: false, dir: dist };
  try {
    return await buildConsole(src, dist);
  } catch (e) {
    return { built: false, ...(complete ? { dir: dist } : {}), why: `console bundle not rebuilt: ${(e as Error).message.slice(0, 300)}` };
  }
}

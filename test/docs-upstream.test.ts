/** docs/upstream.md lists every defect of docs/aedes-patches.md once, and each link lands on its section. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
const slug = (h: string) => h.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');

it('links each patched defect to its section, and misses none', () => {
  const patches = readFileSync('docs/aedes-patches.md', 'utf8');
  const sections = [...patches.matchAll(/^## (\d+\. .*)$/gm)].map((m) => slug(m[1]!));
  const links = [...readFileSync('docs/upstream.md', 'utf8').matchAll(/\(aedes-patches\.md#([^)]+)\)/g)].map((m) => m[1]!);
  expect(sections.length).toBeGreaterThanOrEqual(8);
  expect(links.sort()).toEqual([...sections].sort());
});

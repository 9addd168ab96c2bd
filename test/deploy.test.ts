/**
 * Production without `npm run up`: the systemd units under deploy/systemd pass
 * `systemd-analyze verify` (where systemd-analyze exists; CI installs systemd), restart on
 * failure and carry the hardening options; every long-running compose service restarts, has a
 * healthcheck on its /health, and waits for the health of what it depends on.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const DIR = 'deploy/systemd';
const units = readdirSync(DIR).filter((f) => f.endsWith('.service'));
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

describe('systemd units', () => {
  it('exist for broker, ingest and api, each restarting on failure and hardened', () => {
    expect(units.sort()).toEqual(['smartpark-api.service', 'smartpark-broker.service', 'smartpark-ingest.service']);
    for (const f of units) {
      const text = readFileSync(join(DIR, f), 'utf8');
      for (const line of ['Restart=on-failure', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'CapabilityBoundingSet=', 'User=smartpark', 'KillSignal=SIGTERM']) {
        expect(text.split('\n'), `${f}: ${line}`).toContain(line);
      }
      const script = text.match(/^ExecStart=\/usr\/bin\/env node --import tsx (\S+)$/m)?.[1];
      expect(script, f).toBe(`${f.replace('smartpark-', '').replace('.service', '')}/main.ts`);
      expect(readFileSync('deploy/systemd/smartpark.target', 'utf8')).toContain(f);
    }
  });

  it.runIf(hasAnalyze)('pass systemd-analyze verify with no warning', () => {
    const r = spawnSync('systemd-analyze', ['verify', ...units.map((u) => join(DIR, u)), join(DIR, 'smartpark.target')], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it.runIf(hasAnalyze)('catches a broken unit (the check is real)', () => {
    const bad = join(DIR, '..', '..', 'node_modules', '.bad-unit.service');
    const text = readFileSync(join(DIR, units[0]!), 'utf8').replace('Restart=on-failure', 'Restart=sometimes').replace('/usr/bin/env', '/nonexistent/env');
    writeFileSync(bad, text);
    const r = spawnSync('systemd-analyze', ['verify', bad], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Restart|not executable/);
  });
});

describe('docker-compose.yml runs like production', () => {
  const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
    services: Record<string, { restart?: string; healthcheck?: { test: string[] }; depends_on?: Record<string, { condition: string }>; environment?: Record<string, string> }>;
  };
  const longRunning = Object.entries(compose.services).filter(([name]) => name !== 'provision');

  it('restarts every long-running service unless stopped', () => {
    for (const [name, s] of longRunning) expect(s.restart, name).toBe('unless-stopped');
  });

  it('checks the health of every service that serves /health, on its own port', () => {
    const ports: Record<string, number> = { broker: 9101, ingest: 9102, api: 8080 };
    for (const [name, port] of Object.entries(ports)) {
      expect(compose.services[name]!.healthcheck?.test.join(' '), name).toContain(`http://127.0.0.1:${port}/health`);
    }
  });

  it('waits for the health of every dependency that has a healthcheck', () => {
    for (const [name, s] of longRunning) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        if (compose.services[dep]!.healthcheck) expect(condition, `${name} -> ${dep}`).toBe('service_healthy');
      }
    }
  });
});

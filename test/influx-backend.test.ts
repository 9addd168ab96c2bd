/** The suite's choice of InfluxDB (harness/influx-backend.ts), and its refusal of a container without Docker. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseInfluxBackend, dockerAnswers, dockerSocket, startInfluxContainer } from './harness/influx-backend.ts';

const dir = mkdtempSync(join(tmpdir(), 'influx-backend-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('suite InfluxDB selection', () => {
  it('defaults to Debian influxd, or INFLUX_URL (with its token) when one is given', () => {
    expect(chooseInfluxBackend({})).toEqual({ kind: 'influxd' });
    expect(chooseInfluxBackend({ INFLUX_URL: 'http://db:8086', INFLUX_TOKEN: 't' })).toEqual({ kind: 'url', url: 'http://db:8086', token: 't' });
    expect(chooseInfluxBackend({ INFLUX_URL: 'http://db:8086', TEST_INFLUX: 'influxd' })).toEqual({ kind: 'influxd' });
  });

  it('takes a container image when asked, and refuses a bad choice or a url choice without INFLUX_URL', () => {
    expect(chooseInfluxBackend({ TEST_INFLUX: 'container' })).toEqual({ kind: 'container', image: 'influxdb:2.7' });
    expect(chooseInfluxBackend({ TEST_INFLUX: 'container', TEST_INFLUX_IMAGE: 'influxdb:2.7.11' })).toEqual({ kind: 'container', image: 'influxdb:2.7.11' });
    expect(() => chooseInfluxBackend({ TEST_INFLUX: 'docker' })).toThrow(/TEST_INFLUX="docker": expected influxd, url or container/);
    expect(() => chooseInfluxBackend({ TEST_INFLUX: 'url' })).toThrow(/TEST_INFLUX=url needs INFLUX_URL/);
  });

  it('finds the engine where testcontainers would, and refuses the container path when none answers', async () => {
    expect(dockerSocket({})).toBe('/var/run/docker.sock');
    expect(dockerSocket({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' })).toBe('/run/user/1000/docker.sock');
    const none = { DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}` };
    expect(await dockerAnswers(none)).toBe(false);
    await expect(startInfluxContainer('influxdb:2.7', none)).rejects.toThrow(/no Docker engine answers at .*no-docker\.sock/);
  });
});

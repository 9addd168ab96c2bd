/**
 * Which InfluxDB the suite runs against, chosen once by global-setup.ts:
 *   TEST_INFLUX unset  INFLUX_URL when set (with INFLUX_TOKEN for 2.x/3.x), else Debian's influxd
 *   TEST_INFLUX=influxd     Debian's influxd on a free loopback port, temporary data folder
 *   TEST_INFLUX=url         INFLUX_URL (required), INFLUX_TOKEN when it needs one
 *   TEST_INFLUX=container   influxdb:2.7 (or TEST_INFLUX_IMAGE) through testcontainers, where a
 *                           Docker engine answers: set up with a token, each test file's database a
 *                           bucket "<db>/autogen" that 2.x maps to the v1 API by itself.
 * Our development machines have no Docker engine: the container path is not exercised here (its
 * selection and its refusal without an engine are, in test/influx-backend.test.ts).
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';

export type InfluxBackend =
  | { kind: 'influxd' }
  | { kind: 'url'; url: string; token?: string }
  | { kind: 'container'; image: string };

export function chooseInfluxBackend(env: NodeJS.ProcessEnv): InfluxBackend {
  const want = env.TEST_INFLUX ?? '';
  switch (want) {
    case '':
      return env.INFLUX_URL ? { kind: 'url', url: env.INFLUX_URL, ...(env.INFLUX_TOKEN && { token: env.INFLUX_TOKEN }) } : { kind: 'influxd' };
    case 'influxd':
      return { kind: 'influxd' };
    case 'url':
      if (!env.INFLUX_URL) throw new Error('TEST_INFLUX=url needs INFLUX_URL (e.g. http://127.0.0.1:8086; INFLUX_TOKEN for 2.x/3.x)');
      return { kind: 'url', url: env.INFLUX_URL, ...(env.INFLUX_TOKEN && { token: env.INFLUX_TOKEN }) };
    case 'container':
      return { kind: 'container', image: env.TEST_INFLUX_IMAGE || 'influxdb:2.7' };
    default:
      throw new Error(`TEST_INFLUX=${JSON.stringify(want)}: expected influxd, url or container (or unset)`);
  }
}

/** Where testcontainers would find the engine: DOCKER_HOST, else the default socket. */
export function dockerSocket(env: NodeJS.ProcessEnv): string {
  const h = env.DOCKER_HOST ?? '';
  if (h.startsWith('unix://')) return h.slice('unix://'.length);
  return h || '/var/run/docker.sock';
}

/** True when a Docker engine answers GET /_ping on the socket (tcp:// hosts: left to testcontainers). */
export async function dockerAnswers(env: NodeJS.ProcessEnv): Promise<boolean> {
  const socket = dockerSocket(env);
  if (/^tcp:|^https?:/.test(socket)) return true;
  if (!existsSync(socket)) return false;
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export interface StartedInflux { url: string; token?: string; stop(): Promise<void> }

/** Starts InfluxDB 2.x in a container; refuses clearly when no Docker engine answers. */
export async function startInfluxContainer(image: string, env: NodeJS.ProcessEnv): Promise<StartedInflux> {
  if (!(await dockerAnswers(env))) {
    throw new Error(`TEST_INFLUX=container: no Docker engine answers at ${dockerSocket(env)} (set DOCKER_HOST, or run without TEST_INFLUX to use Debian's influxd)`);
  }
  const { GenericContainer, Wait } = await import('testcontainers');
  const token = `suite-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const c = await new GenericContainer(image)
    .withEnvironment({
      DOCKER_INFLUXDB_INIT_MODE: 'setup', DOCKER_INFLUXDB_INIT_USERNAME: 'suite', DOCKER_INFLUXDB_INIT_PASSWORD: 'suite-password',
      DOCKER_INFLUXDB_INIT_ORG: 'smartpark', DOCKER_INFLUXDB_INIT_BUCKET: 'smartpark/autogen', DOCKER_INFLUXDB_INIT_ADMIN_TOKEN: token,
    })
    .withExposedPorts(8086)
    .withWaitStrategy(Wait.forHttp('/health', 8086))
    .withStartupTimeout(120_000)
    .start();
  return { url: `http://${c.getHost()}:${c.getMappedPort(8086)}`, token, stop: async () => { await c.stop(); } };
}

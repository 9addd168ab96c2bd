/** Reads the gateway configuration file (YAML or JSON) named by GATEWAY_CONFIG or the default. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { PlatformError } from '../errors.ts';
import type { ParkModel } from '../model.ts';
import { parseGatewayConfig, type GatewayConfig } from './config.ts';

export const DEFAULT_GATEWAY_CONFIG = fileURLToPath(new URL('../../config/gateway.yaml', import.meta.url));

export function loadGatewayConfig(model: ParkModel, file: string = process.env.GATEWAY_CONFIG ?? DEFAULT_GATEWAY_CONFIG): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PlatformError('SP_ERR_CONFIG', `cannot read gateway config ${file}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = parse(text);
  } catch (e) {
    throw new PlatformError('SP_ERR_CONFIG', `gateway config ${file} is not valid YAML: ${(e as Error).message}`);
  }
  try {
    return parseGatewayConfig(data, model);
  } catch (e) {
    if (e instanceof PlatformError) throw new PlatformError(e.code, `${file}: ${e.message}`);
    throw e;
  }
}

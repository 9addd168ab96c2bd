/** Every dashboard, by the file name it is written to in dashboards/generated/. */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { loadProduction, loadStandards } from '../core/kpi/config-file.ts';
import type { ParkModel } from '../core/model.ts';
import type { KpiData } from './kpi.ts';
import { forImport } from './common.ts';
import { ceramicsDashboard } from './ceramics.ts';
import { energyDashboard } from './energy.ts';
import { overviewDashboard } from './overview.ts';
import { vaccineDashboard } from './vaccine.ts';

export const DASHBOARDS: Readonly<Record<string, (model: ParkModel, kpi: KpiData) => dashboard.Dashboard>> = {
  'park-overview.json': overviewDashboard,
  'ceramic-tile-line.json': ceramicsDashboard,
  'vaccine-plant.json': vaccineDashboard,
  'energy.json': energyDashboard,
};

/** The generated files: name → JSON text (2-space indent, trailing newline), in a stable order. */
export function renderDashboards(model: ParkModel): Map<string, string> {
  const out = new Map<string, string>();
  const standards = loadStandards(); // the repository's config/standards.yaml and production.yaml, read once
  const kpi: KpiData = { standards, production: loadProduction(model, standards) };
  for (const [file, make] of Object.entries(DASHBOARDS)) out.set(file, `${JSON.stringify(make(model, kpi), null, 2)}\n`);
  return out;
}

/** The Grafana version the SDK's dashboard model is for (docker-compose runs the same). */
export const GRAFANA_VERSION = '11.6.0';

/** The same dashboards for import into an existing Grafana (datasource chosen at import): dashboards/export/. */
export function renderExports(model: ParkModel): Map<string, string> {
  const out = new Map<string, string>();
  for (const [file, text] of renderDashboards(model)) out.set(file, `${JSON.stringify(forImport(JSON.parse(text), GRAFANA_VERSION), null, 2)}\n`);
  return out;
}

/**
 * The hourly KPI facts in InfluxDB: written by the API's rollup (api/kpi/rollup.ts), read by the
 * dashboards (dashboards/kpi.ts). Field names and meanings: docs/kpi.md "Hourly KPI facts".
 */
export const KPI_MEASUREMENT = 'kpi_hourly';
export const HOUR_MS = 3_600_000;

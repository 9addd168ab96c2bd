/**
 * The SDK has no InfluxDB query type: this builder implements `cog.Dataquery` for Grafana's
 * InfluxDB datasource in raw InfluxQL mode and serialises `{refId, datasource, query, rawQuery,
 * resultFormat, alias}` — the shape Grafana stores for a raw InfluxQL target.
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

export type ResultFormat = 'time_series' | 'table';

export interface InfluxQuery extends cog.Dataquery {
  refId: string;
  datasource: dashboard.DataSourceRef;
  /** Raw InfluxQL with Grafana macros ($timeFilter, $__interval) and template variables. */
  query: string;
  rawQuery: true;
  resultFormat: ResultFormat;
  /** Series name pattern: `$tag_device`, `$col`, `$m`. */
  alias?: string;
}

export class InfluxQueryBuilder implements cog.Builder<InfluxQuery> {
  private readonly internal: InfluxQuery;

  constructor(datasource: dashboard.DataSourceRef, query: string) {
    this.internal = {
      refId: 'A', datasource: { ...datasource }, query, rawQuery: true, resultFormat: 'time_series',
      _implementsDataqueryVariant() {},
    };
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  alias(alias: string): this {
    this.internal.alias = alias;
    return this;
  }

  resultFormat(format: ResultFormat): this {
    this.internal.resultFormat = format;
    return this;
  }

  build(): InfluxQuery {
    return { ...this.internal, datasource: { ...this.internal.datasource } };
  }
}

/** A workshop: its devices with status and last values, updated live over the WebSocket /api/v1/live. */
import { api, live } from '../api.ts';
import { h } from '../dom.ts';
import { fmtNum, fmtTime, nameOf, t } from '../i18n.ts';
import { workshops, type Page } from './types.ts';

export const workshopPage: Page = async (root, ctx) => {
  const all = workshops(ctx.park);
  const key = ctx.params.get('ws') ?? `${all[0]!.park}/${all[0]!.enterprise}/${all[0]!.ws.id}`;
  const [park, enterprise, workshop] = key.split('/');
  const pick = h('select', { 'data-testid': 'workshop-select', onchange: (ev) => { location.hash = `#/workshop?ws=${(ev.target as HTMLSelectElement).value}`; } },
    ...all.map((w) => { const v = `${w.park}/${w.enterprise}/${w.ws.id}`; return h('option', { value: v, selected: v === key }, `${nameOf(w.ent)} · ${nameOf(w.ws)}`); }));
  const [{ devices }, { kinds }] = await Promise.all([api(`/api/v1/devices?park=${park}&enterprise=${enterprise}&workshop=${workshop}`), api('/api/v1/kinds')]);
  const units = new Map<string, string>();
  for (const k of kinds as { id: string; metrics: { name: string; unit?: string }[] }[]) for (const m of k.metrics) if (m.unit && m.unit !== '1') units.set(`${k.id}/${m.name}`, m.unit);
  const kindOf = new Map((devices as { id: string; kind: string }[]).map((d) => [d.id, d.kind]));
  const label = (device: string, m: string) => { const u = units.get(`${kindOf.get(device)}/${m}`); return u ? `${m} (${u})` : m; };
  const cells = new Map<string, HTMLElement>();
  const statusCells = new Map<string, HTMLElement>();
  const seen = new Map<string, HTMLElement>();
  const cards = (devices as any[]).map((d) => {
    const status = h('span', { class: `status ${d.status.state}`, 'data-testid': `status-${d.id}` }, t(d.status.state));
    statusCells.set(d.id, status);
    const last = h('span', { class: 'seen', 'data-testid': `seen-${d.id}` }, fmtTime(d.lastSeen));
    seen.set(d.id, last);
    const rows = Object.entries(d.values as Record<string, { value: unknown } | unknown>).map(([m, v]) => {
      const cell = h('td', { 'data-testid': `live-${d.id}-${m}` }, fmtNum(typeof v === 'object' && v !== null && 'value' in v ? (v as { value: unknown }).value : v));
      cells.set(`${d.id}/${m}`, cell);
      return h('tr', {}, h('th', {}, label(d.id, m)), cell);
    });
    const body = h('tbody', {}, ...rows);
    return h('section', { class: 'card', 'data-testid': `device-${d.id}` },
      h('h4', {}, h('a', { href: `#/device?id=${d.id}` }, d.name ?? d.id), ' ', status), h('div', {}, t('lastSeen'), ': ', last), h('table', {}, body));
  });
  root.append(h('h2', {}, t('workshop'), ' ', pick), h('div', { class: 'cards' }, ...cards));
  live({ park: park!, enterprise: enterprise!, workshop: workshop! }, (f) => {
    if (f.type === 'telemetry') {
      for (const [m, v] of Object.entries(f.metrics as Record<string, unknown>)) {
        let cell = cells.get(`${f.device}/${m}`);
        if (!cell) {
          cell = h('td', { 'data-testid': `live-${f.device}-${m}` });
          cells.set(`${f.device}/${m}`, cell);
          root.querySelector(`[data-testid="device-${f.device}"] tbody`)?.append(h('tr', {}, h('th', {}, label(f.device, m)), cell));
        }
        cell.textContent = fmtNum(v);
        cell.classList.remove('flash');
        void cell.offsetWidth;
        cell.classList.add('flash');
      }
      const s = seen.get(f.device);
      if (s) s.textContent = fmtTime(f.ts);
    } else if (f.type === 'status') {
      const s = statusCells.get(f.device);
      if (s) { s.textContent = t(f.state); s.className = `status ${f.state}`; }
    }
  });
};

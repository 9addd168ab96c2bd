/** Alarms: open and history, live arrivals over the WebSocket, acknowledgement with a comment (engineer and admin only). */
import { api, live, roleAtLeast } from '../api.ts';
import { h } from '../dom.ts';
import { fmtNum, fmtTime, t } from '../i18n.ts';
import type { Page } from './types.ts';

interface Alarm { id: string; rule: string; severity: string; device: string; state: string; value: number | null; threshold: number | null; raisedAt: number; acknowledged: boolean; ackedBy: string | null; ackNote?: string; message?: string }

export const alarmsPage: Page = async (root, ctx) => {
  const view = ctx.params.get('view') === 'history' ? 'history' : 'open';
  const canAck = roleAtLeast(ctx.me, 'engineer');
  const body = h('tbody', {});
  const rows = new Map<string, HTMLTableRowElement>();
  const row = (a: Alarm): HTMLTableRowElement => {
    const ackCell = h('td', {});
    if (a.acknowledged) ackCell.append(h('span', { 'data-testid': `acked-${a.id}` }, `${t('acked')} · ${a.ackedBy ?? ''}${a.ackNote ? ` · ${a.ackNote}` : ''}`));
    else if (canAck) {
      const note = h('input', { placeholder: t('comment'), 'data-testid': `ack-note-${a.id}`, maxlength: 500 });
      const btn = h('button', { 'data-testid': `ack-${a.id}` }, t('ack'));
      btn.addEventListener('click', () => void (async () => {
        btn.disabled = true;
        try {
          const r = await api(`/api/v1/alarms/${encodeURIComponent(a.id)}/ack`, { method: 'POST', body: note.value ? { note: note.value } : {} });
          ackCell.replaceChildren(h('span', { 'data-testid': `acked-${a.id}` }, `${t('acked')} · ${r.ackedBy}${r.ackNote ? ` · ${r.ackNote}` : ''}`));
        } catch (e) {
          btn.disabled = false;
          ackCell.append(h('span', { class: 'error' }, (e as Error).message));
        }
      })());
      ackCell.append(note, btn);
    }
    const tr = h('tr', { 'data-testid': `alarm-${a.id}`, class: `sev-${a.severity}` },
      h('td', {}, fmtTime(a.raisedAt)), h('td', {}, a.severity), h('td', {}, a.rule), h('td', {}, a.device),
      h('td', {}, `${fmtNum(a.value)} / ${fmtNum(a.threshold)}`), h('td', { 'data-testid': `state-${a.id}` }, t(a.state === 'open' ? 'raised' : 'cleared')), ackCell);
    return tr;
  };
  const put = (a: Alarm, first = false) => {
    const r = row(a);
    const old = rows.get(a.id);
    if (old) old.replaceWith(r);
    else if (first) body.prepend(r);
    else body.append(r);
    rows.set(a.id, r);
  };
  const tabs = h('div', { class: 'row' },
    h('a', { href: '#/alarms', class: view === 'open' ? 'active' : '', 'data-testid': 'alarms-open' }, t('open')), ' ',
    h('a', { href: '#/alarms?view=history', class: view === 'history' ? 'active' : '', 'data-testid': 'alarms-history' }, t('history')));
  const arrivals = h('ul', { 'data-testid': 'alarm-arrivals' });
  root.append(h('h2', {}, t('alarms')), tabs,
    h('table', { 'data-testid': 'alarms-table' }, h('thead', {}, h('tr', {}, ...[t('raisedAt'), t('severity'), t('rule'), t('device'), t('value'), t('state'), t('ack')].map((x) => h('th', {}, x)))), body),
    h('h3', {}, t('liveArrivals')), arrivals);
  const list = await api(view === 'open' ? '/api/v1/alarms?state=open' : '/api/v1/alarms?state=all&from=-7d');
  for (const a of list.alarms as Alarm[]) put(a);
  const tableEl = root.querySelector('[data-testid=alarms-table]')!;
  live({}, (f) => {
    if (f.type === 'hello') tableEl.setAttribute('data-live', 'ready');
    if (f.type === 'alarm') {
      arrivals.prepend(h('li', {}, `${fmtTime(f.ts)} ${f.state === 'raised' ? t('raised') : t('cleared')} · ${f.rule} · ${f.device} · ${fmtNum(f.value)}`));
      const existing = rows.get(f.id);
      if (f.state === 'raised' && !existing) put({ id: f.id, rule: f.rule, severity: f.severity, device: f.device, state: 'open', value: f.value, threshold: f.threshold, raisedAt: f.raisedAt, acknowledged: false, ackedBy: null }, true);
      else if (f.state === 'cleared' && existing) existing.querySelector(`[data-testid="state-${CSS.escape(f.id)}"]`)!.textContent = t('cleared');
    } else if (f.type === 'alarm_ack' && rows.has(f.id)) {
      const r = rows.get(f.id)!;
      const cell = r.lastElementChild!;
      cell.replaceChildren(h('span', { 'data-testid': `acked-${f.id}` }, `${t('acked')} · ${f.ackedBy}${f.note ? ` · ${f.note}` : ''}`));
    }
  });
};

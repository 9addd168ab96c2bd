/** Devices (admin): status, disable/enable, rotate the secret (the new one shown once). */
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { fmtTime, t } from '../i18n.ts';
import type { Page } from './types.ts';

export const devicesPage: Page = async (root) => {
  const [{ devices }, { disabled, viaGateway, enabled }] = await Promise.all([api('/api/v1/devices'), api('/api/v1/admin/devices')]);
  const secretBox = h('div', { class: 'secret', 'data-testid': 'new-secret', hidden: true });
  const rows = (devices as any[]).map((d) => {
    const off = Boolean(disabled[d.id]);
    const state = h('span', { 'data-testid': `admin-state-${d.id}` }, off ? t('disabled') : t('enabled'));
    const toggle = h('button', { 'data-testid': `toggle-${d.id}` }, off ? t('enable') : t('disable'));
    const rotate = h('button', { 'data-testid': `rotate-${d.id}` }, t('rotate'));
    let isOff = off;
    toggle.addEventListener('click', () => void (async () => {
      const r = await api(`/api/v1/devices/${d.id}/${isOff ? 'enable' : 'disable'}`, { method: 'POST' });
      isOff = r.disabled;
      state.textContent = isOff ? t('disabled') : t('enabled');
      toggle.textContent = isOff ? t('enable') : t('disable');
    })().catch((e) => alert((e as Error).message)));
    rotate.addEventListener('click', () => void (async () => {
      const r = await api(`/api/v1/devices/${d.id}/rotate-secret`, { method: 'POST' });
      secretBox.hidden = false;
      secretBox.replaceChildren(h('b', {}, `${t('newSecret')} — ${d.id}: `), h('code', { 'data-testid': 'secret-value' }, r.secret));
      isOff = false;
      state.textContent = t('enabled');
      toggle.textContent = t('disable');
    })().catch((e) => alert((e as Error).message)));
    const gw: string | undefined = viaGateway[d.id];
    return h('tr', { 'data-testid': `admin-${d.id}` },
      h('td', {}, d.id), h('td', {}, d.name), h('td', {}, `${d.park}/${d.enterprise}/${d.workshop}`),
      h('td', {}, h('span', { class: `status ${d.status.state}` }, t(d.status.state)), ' ', fmtTime(d.lastSeen)),
      h('td', {}, state), h('td', {}, gw ? `${t('viaGateway')} ${gw}` : !enabled ? '—' : toggle, ' ', gw || !enabled ? '' : rotate));
  });
  root.append(h('h2', {}, t('devices')), secretBox,
    h('table', { 'data-testid': 'admin-table' }, h('thead', {}, h('tr', {}, ...['id', t('device'), t('workshop'), t('status'), t('state'), ''].map((x) => h('th', {}, x)))), h('tbody', {}, ...rows)));
};

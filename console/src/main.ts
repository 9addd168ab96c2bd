/**
 * The operator console: login, then one page at a time by hash route (#/overview, #/workshop,
 * #/device, #/energy, #/alarms, #/devices). Every figure comes from the API's routes with the
 * session's role: the console shows what the API grants, and nothing more.
 */
import './style.css';
import { api, closeLive, HttpError, setCsrf, type Me } from './api.ts';
import { disposeCharts } from './charts.ts';
import { h } from './dom.ts';
import { getLang, setLang, t } from './i18n.ts';
import { alarmsPage } from './pages/alarms.ts';
import { devicePage } from './pages/device.ts';
import { devicesPage } from './pages/devices.ts';
import { energyPage } from './pages/energy.ts';
import { overviewPage } from './pages/overview.ts';
import { workshopPage } from './pages/workshop.ts';
import type { Ctx, Page } from './pages/types.ts';

const PAGES: Record<string, { page: Page; label: Parameters<typeof t>[0]; role?: Me['role'] }> = {
  overview: { page: overviewPage, label: 'overview' },
  workshop: { page: workshopPage, label: 'workshop' },
  device: { page: devicePage, label: 'device' },
  energy: { page: energyPage, label: 'energy' },
  alarms: { page: alarmsPage, label: 'alarms' },
  devices: { page: devicesPage, label: 'devices', role: 'admin' },
};

const app = document.getElementById('app')!;
let ctx: Ctx | undefined;

function route(): { name: string; params: URLSearchParams } {
  const [name = 'overview', q = ''] = location.hash.replace(/^#\/?/, '').split('?');
  return { name: PAGES[name] ? name : 'overview', params: new URLSearchParams(q) };
}

async function render(): Promise<void> {
  disposeCharts();
  closeLive();
  document.title = t('title');
  if (!ctx) return renderLogin();
  const { name, params } = route();
  const nav = h('nav', {},
    h('strong', { class: 'brand' }, t('title')),
    ...Object.entries(PAGES).filter(([, p]) => !p.role || p.role === ctx!.me.role || ctx!.me.role === 'admin')
      .map(([id, p]) => h('a', { href: `#/${id}`, class: id === name ? 'active' : '', 'data-testid': `nav-${id}` }, t(p.label))),
    h('span', { class: 'who', 'data-testid': 'who' }, `${ctx.me.user} · ${ctx.me.role}`),
    h('button', { 'data-testid': 'lang', onclick: () => { setLang(getLang() === 'en' ? 'zh-CN' : 'en'); void render(); } }, t('language')),
    h('button', { 'data-testid': 'logout', onclick: () => void logout() }, t('logout')),
  );
  const main = h('main', { 'data-testid': `page-${name}` });
  app.replaceChildren(nav, main);
  try {
    await PAGES[name]!.page(main, { ...ctx, params });
  } catch (e) {
    main.append(h('p', { class: 'error', 'data-testid': 'error' }, (e as Error).message));
  }
}

function renderLogin(): void {
  const user = h('input', { name: 'username', autocomplete: 'username', 'data-testid': 'username' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', 'data-testid': 'password' });
  const msg = h('p', { class: 'error', 'data-testid': 'login-error' });
  const form = h('form', { class: 'login', 'data-testid': 'login-form' },
    h('h1', {}, t('title')),
    h('label', {}, t('username'), user), h('label', {}, t('password'), pass),
    h('button', { type: 'submit', 'data-testid': 'login-submit' }, t('login')), msg,
    h('button', { type: 'button', class: 'link', 'data-testid': 'lang', onclick: () => { setLang(getLang() === 'en' ? 'zh-CN' : 'en'); renderLogin(); } }, t('language')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void (async () => {
      try {
        const me = await api<Me>('/api/v1/session', { method: 'POST', body: { username: user.value, password: pass.value } });
        await start(me);
      } catch (e) {
        msg.textContent = e instanceof HttpError && e.code === 'SP_ERR_API_LOGIN_LIMITED' ? t('loginLimited', { s: e.retryAfter ?? 1 }) : t('loginFailed');
        msg.dataset.code = e instanceof HttpError ? e.code : 'network';
      }
    })();
  });
  app.replaceChildren(form);
}

async function start(me: Me): Promise<void> {
  setCsrf(me.csrf);
  ctx = { me, park: await api('/api/v1/park'), params: new URLSearchParams() };
  await render();
}

async function logout(): Promise<void> {
  await api('/api/v1/session', { method: 'DELETE' }).catch(() => {});
  ctx = undefined;
  setCsrf('');
  await render();
}

setLang(getLang());
addEventListener('hashchange', () => void render());
api<Me>('/api/v1/session').then(start, () => render());

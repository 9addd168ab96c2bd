/**
 * The console talks to the API only through its public routes, with the session cookie (set by
 * POST /api/v1/session, HttpOnly) and the CSRF token from GET /api/v1/session on every change.
 */
export interface Me { user: string; role: 'viewer' | 'engineer' | 'admin'; csrf?: string }
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly retryAfter?: number) { super(message); }
}

let csrf = '';
export const setCsrf = (token: string | undefined): void => { csrf = token ?? ''; };

export async function api<T = any>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = {};
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(path, { method, headers, credentials: 'same-origin', body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  const text = await r.text();
  const body = text ? JSON.parse(text) : {};
  if (!r.ok) throw new HttpError(r.status, body?.error?.code ?? 'HTTP', body?.error?.message ?? r.statusText, Number(r.headers.get('retry-after')) || undefined);
  return body as T;
}

export const roleAtLeast = (me: Me, need: Me['role']): boolean => ['viewer', 'engineer', 'admin'].indexOf(me.role) >= ['viewer', 'engineer', 'admin'].indexOf(need);

/** One WebSocket to /api/v1/live (cookie-authenticated), reopened after a drop; handlers get every frame. */
type Frame = Record<string, any> & { type: string };
const handlers = new Set<(f: Frame) => void>();
let socket: WebSocket | undefined;
let query = '';
export function live(filter: Record<string, string>, onFrame: (f: Frame) => void): () => void {
  const q = new URLSearchParams(filter).toString();
  handlers.add(onFrame);
  if (!socket || q !== query) {
    query = q;
    socket?.close();
    open();
  }
  return () => { handlers.delete(onFrame); };
}
function open(): void {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/live${query ? `?${query}` : ''}`;
  const s = new WebSocket(url);
  socket = s;
  s.onmessage = (ev) => {
    const f = JSON.parse(String(ev.data)) as Frame;
    for (const h of handlers) h(f);
  };
  s.onclose = () => {
    if (socket === s) setTimeout(() => { if (socket === s) open(); }, 2000);
  };
}
export function closeLive(): void {
  const s = socket;
  socket = undefined;
  handlers.clear();
  s?.close();
}

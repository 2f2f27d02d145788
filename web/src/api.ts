// The JSON API of the service that serves this page (same origin). The API key of a signed-in
// publisher or client is kept in sessionStorage: it lives as long as the tab, never in a cookie.

import type { ErrorBody, WhoAmI } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Session {
  key: string;
  address: string;
  role: string;
  keyId: string;
}

const SESSION = 'imo.session';
const listeners = new Set<() => void>();

export function session(): Session | null {
  const raw = sessionStorage.getItem(SESSION);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Session;
  } catch {
    sessionStorage.removeItem(SESSION);
    return null;
  }
}

export function onSession(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

export function setSession(s: Session | null): void {
  if (s) sessionStorage.setItem(SESSION, JSON.stringify(s));
  else sessionStorage.removeItem(SESSION);
  for (const f of listeners) f();
}

/** Checks `key` with `GET /v1/whoami` and keeps it as the session. */
export async function signInWithKey(key: string): Promise<Session> {
  const who = await get<WhoAmI>('/v1/whoami', { key });
  const s = { key, address: who.address, role: who.role, keyId: who.key_id };
  setSession(s);
  return s;
}

interface Options {
  /** Send the session's key (or this one). */
  auth?: boolean;
  key?: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  signal?: AbortSignal;
}

function url(path: string, query?: Options['query']): string {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
  return u.pathname + u.search;
}

function headers(o: Options): Record<string, string> {
  const h: Record<string, string> = { accept: 'application/json' };
  const key = o.key ?? (o.auth ? session()?.key : undefined);
  if (o.auth && !key) throw new ApiError(401, 'unauthenticated', 'sign in first');
  if (key) h.authorization = `Bearer ${key}`;
  if (o.body !== undefined) h['content-type'] = 'application/json';
  return h;
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as ErrorBody;
    if (body?.error?.code) {
      code = body.error.code;
      message = body.error.message;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, code, message);
}

export async function request<T>(method: string, path: string, o: Options = {}): Promise<T> {
  const init: RequestInit = { method, headers: headers(o) };
  if (o.body !== undefined) init.body = JSON.stringify(o.body);
  if (o.signal) init.signal = o.signal;
  const res = await fetch(url(path, o.query), init);
  if (!res.ok) {
    const e = await errorOf(res);
    // The session's key was revoked or is unknown: forget it (the views ask to sign in again).
    if (e.status === 401 && o.auth && !o.key) setSession(null);
    throw e;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T>(path: string, o: Options = {}) => request<T>('GET', path, o);
export const post = <T>(path: string, body: unknown, o: Options = {}) => request<T>('POST', path, { ...o, body });

/** `GET` that answers `null` on 404 (e.g. a model that is not tokenized). */
export async function getOrNull<T>(path: string, o: Options = {}): Promise<T | null> {
  try {
    return await get<T>(path, o);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

/** Uploads a model file with `XMLHttpRequest`, which reports upload progress (fetch does not). */
export function upload<T>(
  path: string,
  query: Options['query'],
  file: File,
  onProgress: (sent: number, total: number) => void,
): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const key = session()?.key;
    if (!key) {
      reject(new ApiError(401, 'unauthenticated', 'sign in first'));
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url(path, query));
    xhr.setRequestHeader('authorization', `Bearer ${key}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('accept', 'application/json');
    xhr.responseType = 'text';
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the upload failed: network error'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'the upload was cancelled'));
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // leave null
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        resolve({ status: xhr.status, body: body as T });
      } else {
        const err = (body as ErrorBody | null)?.error;
        reject(new ApiError(xhr.status, err?.code ?? `http_${xhr.status}`, err?.message ?? `upload failed: ${xhr.status}`));
      }
    };
    xhr.send(file);
  });
}

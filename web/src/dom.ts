// A tiny DOM builder: text always goes in as text nodes (never as HTML), so nothing the
// service or the chain returns can inject markup.

type Child = Node | string | number | bigint | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v as EventListener);
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function replace(el: Element, ...children: Child[]): void {
  clear(el);
  append(el, children);
}

/** A card: a section labelled by its heading (`<id>-title`), then its children. */
export function card(id: string, title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'card', 'aria-labelledby': `${id}-title` }, h('h2', { id: `${id}-title` }, title), ...children);
}

/** One entry of a definition list (`<dl>`): its term, then the `dd` with `attrs` holding the value. */
export function fact(term: string, attrs: Attrs, ...value: Child[]): HTMLElement[] {
  return [h('dt', {}, term), h('dd', attrs, ...value)];
}

/** A table with a caption, column headers and rows. */
export function table(caption: string, headers: string[], rows: Child[][], attrs: Attrs = {}): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      attrs,
      h('caption', {}, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((x) => h('th', { scope: 'col' }, x)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.length === 0
          ? h('tr', {}, h('td', { colspan: headers.length, class: 'empty' }, 'None yet.'))
          : rows.map((r) =>
              h(
                'tr',
                {},
                r.map((c) => h('td', {}, c)),
              ),
            ),
      ),
    ),
  );
}

let idCounter = 0;
export function uid(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled form field. */
export function field(label: string, input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  if (!input.id) input.id = uid('f');
  const hintEl = hint ? h('small', { id: `${input.id}-hint`, class: 'hint' }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hintEl);
}

export function badge(state: string, text = state): HTMLElement {
  return h('span', { class: `badge badge-${state.replace(/[^a-z_]/g, '')}` }, text);
}

/** A status line for a form: errors are announced assertively. */
export function statusLine(): { el: HTMLElement; ok(msg: string): void; error(msg: string): void; busy(msg: string): void; clear(): void } {
  const el = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' });
  return {
    el,
    ok(msg) {
      el.className = 'form-status ok';
      el.setAttribute('role', 'status');
      el.textContent = msg;
    },
    error(msg) {
      el.className = 'form-status error';
      el.setAttribute('role', 'alert');
      el.textContent = msg;
    },
    busy(msg) {
      el.className = 'form-status busy';
      el.setAttribute('role', 'status');
      el.textContent = msg;
    },
    clear() {
      el.className = 'form-status';
      el.textContent = '';
    },
  };
}

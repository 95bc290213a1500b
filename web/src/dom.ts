// Building elements from data without innerHTML: names in a lineage store are user input.

export type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Array<Child | Child[]>
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(key.replace(/^on/, ""), value);
    else if (value === true) element.setAttribute(key, "");
    else element.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** A link inside the UI: followed without reloading the page (see router.ts). */
export function link(href: string, ...children: Child[]): HTMLAnchorElement {
  return h("a", { href, "data-nav": true }, ...children);
}

export function nodeHref(id: string, extra: Record<string, string> = {}): string {
  return `/ui/node?${new URLSearchParams({ id, ...extra })}`;
}

export function runHref(runId: string): string {
  return `/ui/run/${encodeURIComponent(runId)}`;
}

export function shortVersion(version: string | undefined): string {
  if (!version) return "";
  const [scheme, digest] = version.includes(":") ? version.split(":", 2) : ["", version];
  return scheme ? `${scheme}:${digest.slice(0, 12)}` : digest.slice(0, 12);
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export type Cell = Child | Child[];

export function table(headers: string[], rows: Cell[][], caption?: string): HTMLTableElement {
  return h(
    "table",
    {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell))))),
  );
}

export function value(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

/** A facet or other JSON document, folded by default. */
export function jsonBlock(title: string, body: unknown, open = false): HTMLDetailsElement {
  return h(
    "details",
    { class: "json", open },
    h("summary", {}, title),
    h("pre", {}, JSON.stringify(body, null, 2)),
  );
}

export function message(kind: "error" | "info", text: string): HTMLElement {
  return h("p", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** The nodes of a list with the absent ones (null, false) left out. */
export function present(...items: Array<Node | string | null | undefined | false>): Array<Node | string> {
  return items.filter((item): item is Node | string => item !== null && item !== undefined && item !== false);
}

/** A number as people read it: six significant digits at most, no trailing zeros. */
export function number(v: unknown): string {
  if (typeof v !== "number") return value(v);
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

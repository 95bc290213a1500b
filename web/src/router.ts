// Pages live at stable /ui/… URLs (paste one into a ticket and it opens the same view);
// links inside the UI change the URL without reloading.

export type Page = (app: HTMLElement, url: URL) => Promise<void> | void;

const routes: Array<[RegExp, Page]> = [];
let notFound: Page = (app) => {
  app.textContent = "No such page.";
};

export function route(pattern: RegExp, page: Page): void {
  routes.push([pattern, page]);
}

export function fallback(page: Page): void {
  notFound = page;
}

export function navigate(href: string, replace = false): void {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  void render();
}

let rendering = 0;

export async function render(): Promise<void> {
  const app = document.getElementById("app");
  if (!app) return;
  const url = new URL(location.href);
  const path = url.pathname.replace(/\/+$/, "") || "/";
  const ticket = ++rendering;
  const found = routes.find(([pattern]) => pattern.test(path));
  app.replaceChildren();
  app.setAttribute("aria-busy", "true");
  try {
    await (found ? found[1] : notFound)(app, url);
  } finally {
    // A newer navigation owns the page now; only the latest render says it is done.
    if (ticket === rendering) app.setAttribute("aria-busy", "false");
  }
}

export function isCurrent(ticket: number): boolean {
  return ticket === rendering;
}

export function start(): void {
  document.addEventListener("click", (event) => {
    const target = event.target as Element | null;
    const anchor = target?.closest("a[data-nav]") as HTMLAnchorElement | null;
    if (!anchor || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    const url = new URL(anchor.href);
    if (url.origin !== location.origin) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  window.addEventListener("popstate", () => void render());
  void render();
}

// Compare two versions (two models, or two versions of one): inputs, parameters, code,
// upstream data and metrics side by side.

import { api } from "../api";
import type { Change, Diff } from "../api";
import { h, link, message, nodeHref, number, table, value } from "../dom";
import { navigate } from "../router";
import { errorText } from "./search";

const SECTIONS: Array<[keyof Diff, string]> = [
  ["metrics", "Metrics"],
  ["parameters", "Parameters"],
  ["inputs", "Inputs"],
  ["upstream", "Upstream data"],
  ["code", "Code"],
];

export async function diffPage(app: HTMLElement, url: URL): Promise<void> {
  const a = url.searchParams.get("a") ?? "";
  const b = url.searchParams.get("b") ?? "";
  const form = h(
    "form",
    { class: "controls", "aria-label": "Versions to compare" },
    h("label", {}, "A ", h("input", { name: "a", value: a, size: 60, required: true })),
    h("label", {}, "B ", h("input", { name: "b", value: b, size: 60, required: true })),
    h("button", { type: "submit" }, "Compare"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    navigate(`/ui/diff?${new URLSearchParams({ a: String(data.get("a")).trim(), b: String(data.get("b")).trim() })}`);
  });
  app.append(h("h1", {}, "Compare two versions"), form);
  if (!a || !b) {
    app.append(message("info", "Name two versions (any id threadline prints), or open a model and choose “Compare with”."));
    return;
  }
  let diff: Diff;
  try {
    diff = await api.diff(a, b);
  } catch (error) {
    app.append(message("error", errorText(error)));
    return;
  }
  app.append(
    table(
      ["", "Version", "Made by"],
      [
        ["A", link(nodeHref(diff.a.id), diff.a.id), diff.a.executions.map((e) => h("div", { class: "mono small" }, e))],
        ["B", link(nodeHref(diff.b.id), diff.b.id), diff.b.executions.map((e) => h("div", { class: "mono small" }, e))],
      ],
    ),
  );
  if (diff.identical) app.append(message("info", "The two versions are identical in everything recorded."));
  for (const note of diff.notes ?? []) app.append(message("info", note));
  for (const [key, title] of SECTIONS) {
    const changes = (diff[key] ?? []) as Change[];
    app.append(
      h(
        "section",
        { "aria-label": title },
        h("h2", {}, `${title} (${changes.length} difference${changes.length === 1 ? "" : "s"})`),
        changes.length
          ? table(
              ["Key", "Change", "A", "B"],
              changes.map((c) => [c.key, h("span", { class: `change ${c.change}` }, c.change.replace("_", " ")), cell(c.a), cell(c.b)]),
            )
          : h("p", { class: "muted" }, "No difference."),
      ),
    );
  }
}

function cell(v: unknown): HTMLElement {
  if (Array.isArray(v)) return h("div", {}, v.map((x) => h("div", { class: "mono small" }, value(x))));
  return h("span", { class: typeof v === "number" ? "number" : "" }, typeof v === "number" ? number(v) : value(v));
}

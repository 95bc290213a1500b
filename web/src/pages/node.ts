// A node's page: its lineage graph (upstream and downstream, depth and as-of controls, click
// to expand), versions, facets, owners, labels, quality statistics, the runs that made it,
// row trace for prediction files and, for models, a comparison with another version.

import { api } from "../api";
import type { Graph, GraphNode, RowTrace, Show } from "../api";
import { h, jsonBlock, link, message, nodeHref, number, runHref, shortVersion, table, value, when } from "../dom";
import { GraphView } from "../graph";
import { navigate } from "../router";
import { errorText } from "./search";

const DEFAULT_STEPS = 2;
const ROW_KINDS = new Set(["dataset", "features", "predictions"]);

export async function nodePage(app: HTMLElement, url: URL): Promise<void> {
  const id = url.searchParams.get("id");
  if (!id) {
    app.append(h("h1", {}, "Node"), message("error", "No node named: the URL needs ?id=…"));
    return;
  }
  const steps = clampSteps(url.searchParams.get("depth"));
  const asOf = url.searchParams.get("as_of") || null;
  // The graph's two questions go out with the node's own: one round trip, not two.
  const graphs = neighbourhood(id, steps, asOf);
  graphs.catch(() => undefined); // reported below, once the page has its header
  let shown: Show;
  try {
    shown = await api.show(id, asOf);
  } catch (error) {
    app.append(h("h1", {}, "Node"), h("p", { class: "mono" }, id), message("error", errorText(error)));
    return;
  }
  const node = shown.node;
  app.append(header(node), controls(url, steps, asOf));

  const graphSection = h("section", { "aria-label": "Lineage" }, h("h2", {}, "Lineage"));
  app.append(graphSection);
  const view = new GraphView({
    root: node.id,
    expand: (target) => neighbourhood(target, DEFAULT_STEPS, asOf),
  });
  graphSection.append(view.element);
  try {
    await view.show(await graphs);
  } catch (error) {
    graphSection.append(message("error", errorText(error)));
  }

  if (ROW_KINDS.has(node.kind) && !node.redacted) app.append(rowTrace(node, asOf));
  if (node.kind === "model") app.append(await compare(node, shown));
  app.append(versions(shown, asOf), runs(shown), facets(shown));
}

function clampSteps(raw: string | null): number {
  const n = Number(raw ?? DEFAULT_STEPS);
  return Number.isInteger(n) && n >= 1 && n <= 20 ? n : DEFAULT_STEPS;
}

/** Upstream and downstream, ``steps`` job hops each way (one hop is two edges). */
async function neighbourhood(id: string, steps: number, asOf: string | null): Promise<Graph[]> {
  return Promise.all([api.trace(id, steps * 2, asOf), api.impact(id, steps * 2, asOf)]);
}

function header(node: GraphNode): HTMLElement {
  return h(
    "header",
    { class: "node-header" },
    h("p", { class: "kind-badge" }, node.kind, node.stage ? ` · ${node.stage}` : ""),
    h("h1", {}, node.redacted ? "[redacted]" : (node.name ?? node.id)),
    node.redacted ? message("info", `This node is hidden from you (${node.redacted}); its edges are kept so counts stay honest.`) : null,
    node.erased ? message("info", `What this version held was erased under the lifecycle rule ${node.erased}; its lineage is kept.`) : null,
    node.archived ? message("info", `The record that made this version is in the archive (${node.archived}): it is read from there.`) : null,
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Namespace"),
      h("dd", {}, node.namespace ?? "—"),
      h("dt", {}, "Version"),
      h("dd", { class: "mono", title: node.version ?? "" }, node.version ?? "—"),
      h("dt", {}, "First seen"),
      h("dd", {}, when(node.first_seen)),
      h("dt", {}, "Owners"),
      h("dd", {}, (node.owners ?? []).join(", ") || "—"),
      h("dt", {}, "Labels"),
      h("dd", {}, (node.labels ?? []).length ? (node.labels ?? []).map((l) => h("span", { class: "label" }, l)) : "—"),
      h("dt", {}, "Id"),
      h("dd", { class: "mono small" }, node.id),
    ),
  );
}

function controls(url: URL, steps: number, asOf: string | null): HTMLElement {
  const form = h(
    "form",
    { class: "controls", "aria-label": "Graph controls" },
    h("label", {}, "Depth (job hops each way) ", h("input", { name: "depth", type: "number", min: 1, max: 20, value: steps })),
    h("label", {}, "As of ", h("input", { name: "as_of", value: asOf ?? "", placeholder: "now (or 2026-01-31T12:00Z)" })),
    h("button", { type: "submit" }, "Apply"),
    asOf ? h("button", { type: "button", name: "now", onclick: () => go(url, { as_of: null }) }, "Back to now") : null,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    go(url, { depth: String(data.get("depth") ?? ""), as_of: String(data.get("as_of") ?? "").trim() || null });
  });
  return form;
}

function go(url: URL, changes: Record<string, string | null>): void {
  const next = new URLSearchParams(url.search);
  for (const [key, v] of Object.entries(changes)) {
    if (v === null || v === "") next.delete(key);
    else next.set(key, v);
  }
  navigate(`${url.pathname}?${next}`);
}

function rowTrace(node: GraphNode, asOf: string | null): HTMLElement {
  const output = h("div", { class: "row-trace-result", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "controls" },
    h("label", {}, "Row (from 0, header excluded) ", h("input", { name: "row", type: "number", min: 0, required: true })),
    h("button", { type: "submit" }, "Trace this row"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const row = Number(new FormData(form).get("row"));
    output.replaceChildren(h("p", { class: "muted" }, "Tracing…"));
    try {
      const graph = await api.trace(node.id, 40, asOf, row);
      output.replaceChildren(rowAnswer(graph.row));
    } catch (error) {
      output.replaceChildren(message("error", errorText(error)));
    }
  });
  return h("section", { "aria-label": "Row trace" }, h("h2", {}, "Row trace"), form, output);
}

function rowAnswer(row: RowTrace | undefined): HTMLElement {
  if (!row) return message("info", "No row lineage was recorded for this file.");
  const ref = (id: string | null | undefined) => (id ? link(nodeHref(id), id) : "—");
  return h(
    "div",
    {},
    h("p", {}, `Row ${row.row}${row.rows !== undefined ? ` of ${row.rows}` : ""}`),
    h(
      "ol",
      { class: "chain" },
      (row.chain ?? []).map((step) => h("li", {}, ref(step.dataset), step.row !== null ? ` row ${step.row}` : " (row not mapped)")),
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Model"),
      h("dd", {}, ref(row.model)),
      h("dt", {}, "Deployment"),
      h("dd", {}, row.deployment ? ref(row.deployment.id) : "—"),
      h("dt", {}, "Features"),
      h("dd", {}, (row.features ?? []).map((f) => h("div", {}, ref(f)))),
      h("dt", {}, "Training data"),
      h("dd", {}, (row.training_data ?? []).map((f) => h("div", {}, ref(f)))),
    ),
  );
}

async function compare(node: GraphNode, shown: Show): Promise<HTMLElement> {
  const section = h("section", { "aria-label": "Compare" }, h("h2", {}, "Compare with"));
  const others = new Map<string, string>();
  for (const v of shown.versions.recent) if (v.id !== node.id) others.set(v.id, `this model, version ${shortVersion(v.version)}`);
  try {
    const models = await api.search({ kind: "model", limit: 200 });
    for (const m of models.results) if (m.id !== node.id && !m.redacted) others.set(m.id, `${m.name} ${shortVersion(m.version)}`);
  } catch {
    // Comparing with another version still works without the search.
  }
  if (!others.size) {
    section.append(message("info", "No other model version to compare with."));
    return section;
  }
  const form = h(
    "form",
    { class: "controls" },
    h("label", {}, "Model ", h("select", { name: "b" }, [...others].map(([id, text]) => h("option", { value: id }, text)))),
    h("button", { type: "submit" }, "Compare"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const b = String(new FormData(form).get("b"));
    navigate(`/ui/diff?${new URLSearchParams({ a: node.id, b })}`);
  });
  section.append(form);
  return section;
}

function versions(shown: Show, asOf: string | null): HTMLElement {
  const extra: Record<string, string> = asOf ? { as_of: asOf } : {};
  return h(
    "section",
    { "aria-label": "Versions" },
    h("h2", {}, `Versions (${shown.versions.count})`),
    table(
      ["Version", "First seen", ""],
      shown.versions.recent.map((v) => [
        v.id === shown.node.id ? h("strong", { class: "mono" }, shortVersion(v.version)) : link(nodeHref(v.id, extra), h("span", { class: "mono" }, shortVersion(v.version))),
        when(v.first_seen),
        v.current ? "current" : "",
      ]),
    ),
  );
}

function runs(shown: Show): HTMLElement {
  return h(
    "section",
    { "aria-label": "Runs" },
    h("h2", {}, `Runs that made it (${shown.runs.length})`),
    shown.runs.length
      ? table(
          ["Run", "Job", "State", "Started", "Ended", "By", "Commit", "Why"],
          shown.runs.map((run) => [
            link(runHref(run.run_id), h("span", { class: "mono" }, run.run_id)),
            run.job,
            h("span", { class: `state ${run.state.toLowerCase()}` }, run.state),
            when(run.started),
            when(run.ended),
            [run.user, run.host].filter(Boolean).join("@"),
            h("span", { class: "mono" }, run.commit ? `${run.commit.slice(0, 10)}${run.dirty ? " (dirty)" : ""}` : "—"),
            run.reason ?? "",
          ]),
        )
      : message("info", "No run recorded making this version (a source, or recorded by hand)."),
  );
}

function facets(shown: Show): HTMLElement {
  const section = h("section", { "aria-label": "Facets" }, h("h2", {}, "Facets"));
  const all = shown.facets ?? {};
  const schema = all.schema as { fields?: Array<{ name: string; type?: string; description?: string }> } | undefined;
  if (schema?.fields?.length) {
    section.append(h("h3", {}, "Schema"), table(["Column", "Type", "Description"], schema.fields.map((f) => [f.name, f.type ?? "", f.description ?? ""])));
  }
  const stats = all.threadline_column_stats as
    | { rows?: number; columns?: Record<string, Record<string, unknown>> }
    | undefined;
  if (stats?.columns) {
    section.append(
      h("h3", {}, `Quality statistics${stats.rows !== undefined ? ` (${stats.rows} rows)` : ""}`),
      table(
        ["Column", "Count", "Nulls", "Min", "Mean", "Max", "Median", "Top values"],
        Object.entries(stats.columns).map(([name, s]) => [
          name,
          value(s.count),
          value(s.nulls),
          number(s.min),
          number(s.mean),
          number(s.max),
          number(s.p50),
          s.top ? topShares(s.top) : "",
        ]),
      ),
    );
  }
  const quality = all.dataQualityMetrics;
  if (quality) section.append(jsonBlock("Data quality metrics", quality, true));
  for (const [name, body] of Object.entries(all)) {
    if (name === "schema" || name === "threadline_column_stats" || name === "dataQualityMetrics") continue;
    section.append(jsonBlock(name, body));
  }
  if (!Object.keys(all).length) section.append(message("info", "No facets recorded."));
  return section;
}

function topShares(top: unknown): string {
  if (Array.isArray(top)) return top.slice(0, 3).map((t) => value(t)).join(", ");
  if (top && typeof top === "object") {
    return Object.entries(top as Record<string, unknown>)
      .slice(0, 3)
      .map(([k, v]) => `${k} ${typeof v === "number" ? `${(v * 100).toFixed(1)}%` : value(v)}`)
      .join(", ");
  }
  return value(top);
}

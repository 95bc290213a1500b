// A run's page: its job and state, code, parameters, environment, inputs, outputs and why.

import { api } from "../api";
import type { Graph, GraphNode, MarquezRun, Show } from "../api";
import { h, jsonBlock, link, message, nodeHref, shortVersion, table, value, when } from "../dom";
import { errorText } from "./search";

export async function runPage(app: HTMLElement, url: URL): Promise<void> {
  const runId = decodeURIComponent(url.pathname.split("/").filter(Boolean).pop() ?? "");
  app.append(h("h1", {}, "Run ", h("span", { class: "mono" }, runId)));
  let run: MarquezRun;
  let shown: Show;
  try {
    [run, shown] = await Promise.all([api.run(runId), api.show(runId)]);
  } catch (error) {
    app.append(message("error", errorText(error)));
    return;
  }
  const execution = shown.node;
  const summary = shown.runs.find((r) => r.run_id === runId);
  const context = (run.facets.threadline_context ?? {}) as Record<string, unknown>;
  const failure = run.facets.errorMessage as { message?: string } | undefined;
  app.append(
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Job"),
      h("dd", {}, link(nodeHref(execution.id), execution.job ?? execution.name ?? execution.id)),
      h("dt", {}, "Stage"),
      h("dd", {}, execution.stage ?? "—"),
      h("dt", {}, "State"),
      h("dd", {}, h("span", { class: `state ${run.state.toLowerCase()}` }, run.state)),
      h("dt", {}, "Started"),
      h("dd", {}, when(run.startedAt)),
      h("dt", {}, "Ended"),
      h("dd", {}, when(run.endedAt), run.durationMs !== null ? ` (${run.durationMs} ms)` : ""),
      h("dt", {}, "By"),
      h("dd", {}, [summary?.user, summary?.host].filter(Boolean).join("@") || "—"),
      h("dt", {}, "Why"),
      h("dd", { class: "reason" }, summary?.reason ?? execution.reason ?? "—"),
      failure ? [h("dt", {}, "Error"), h("dd", { class: "message error" }, failure.message ?? "")] : null,
    ),
  );

  const code = execution.code ?? {};
  app.append(
    h(
      "section",
      { "aria-label": "Code" },
      h("h2", {}, "Code"),
      table(
        ["Commit", "Branch", "Dirty", "Script digest"],
        [[h("span", { class: "mono" }, code.commit ?? "—"), code.branch ?? "—", value(code.dirty), h("span", { class: "mono" }, shortVersion(code.script))]],
      ),
    ),
  );
  const parameters = execution.parameters ?? {};
  app.append(
    h(
      "section",
      { "aria-label": "Parameters" },
      h("h2", {}, "Parameters"),
      Object.keys(parameters).length
        ? table(["Name", "Value"], Object.entries(parameters).map(([k, v]) => [k, h("span", { class: "mono" }, value(v))]))
        : message("info", "No parameters recorded."),
    ),
  );
  app.append(environment(context));

  try {
    const [up, down] = await Promise.all([api.trace(execution.id, 1), api.impact(execution.id, 1)]);
    app.append(artifacts("Inputs", up, execution.id, "from"), artifacts("Outputs", down, execution.id, "to"));
  } catch (error) {
    app.append(message("error", errorText(error)));
  }
  const facets = h("section", { "aria-label": "Run facets" }, h("h2", {}, "Run facets"));
  for (const [name, body] of Object.entries(run.facets)) facets.append(jsonBlock(name, body));
  app.append(facets);
}

function environment(context: Record<string, unknown>): HTMLElement {
  const packages = (context.packages ?? {}) as Record<string, string>;
  const rows: Array<[string, unknown]> = [
    ["Python", context.python],
    ["Platform", context.platform],
    ["Host", context.host],
    ["Working directory", context.cwd],
    ["Command", Array.isArray(context.argv) ? context.argv.join(" ") : context.argv],
  ];
  return h(
    "section",
    { "aria-label": "Environment" },
    h("h2", {}, "Environment"),
    table(["", ""], rows.filter(([, v]) => v !== undefined).map(([k, v]) => [k, value(v)])),
    Object.keys(packages).length
      ? table(["Package", "Version"], Object.entries(packages).map(([k, v]) => [k, v]), "Packages")
      : null,
  );
}

function artifacts(title: string, graph: Graph, execution: string, side: "from" | "to"): HTMLElement {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const linked = graph.edges
    .filter((e) => (side === "from" ? e.to === execution : e.from === execution))
    .map((e) => byId.get(side === "from" ? e.from : e.to))
    .filter((n): n is GraphNode => n !== undefined);
  return h(
    "section",
    { "aria-label": title },
    h("h2", {}, `${title} (${linked.length})`),
    linked.length
      ? table(
          ["Name", "Kind", "Version"],
          linked.map((n) => [
            n.redacted ? "[redacted]" : link(nodeHref(n.id), n.name ?? n.id),
            n.kind,
            h("span", { class: "mono" }, shortVersion(n.version)),
          ]),
        )
      : message("info", `No ${title.toLowerCase()} recorded.`),
  );
}

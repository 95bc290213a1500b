// Search: name, owner, label, kind, stage, namespace (and as of a time); the recent runs below.

import { api, ApiError } from "../api";
import { h, link, message, nodeHref, runHref, shortVersion, table, when } from "../dom";
import { navigate } from "../router";
import { STAGES } from "../graph";

const KINDS = ["", "dataset", "features", "model", "deployment", "predictions", "job"];
const FIELDS = ["text", "kind", "namespace", "owner", "label", "stage", "as_of"] as const;

export async function searchPage(app: HTMLElement, url: URL): Promise<void> {
  const params = Object.fromEntries(FIELDS.map((f) => [f, url.searchParams.get(f) ?? ""]));
  const form = h(
    "form",
    { class: "search", role: "search" },
    h("label", {}, "Name ", h("input", { name: "text", type: "search", value: params.text, placeholder: "part of a name or namespace" })),
    h("label", {}, "Kind ", select("kind", KINDS, params.kind)),
    h("label", {}, "Stage ", select("stage", ["", ...STAGES.map(([s]) => s)], params.stage)),
    h("label", {}, "Namespace ", h("input", { name: "namespace", value: params.namespace })),
    h("label", {}, "Owner ", h("input", { name: "owner", value: params.owner, placeholder: "team:ml" })),
    h("label", {}, "Label ", h("input", { name: "label", value: params.label, placeholder: "pii" })),
    h("label", {}, "As of ", h("input", { name: "as_of", value: params.as_of, placeholder: "2026-01-31T12:00Z" })),
    h("button", { type: "submit" }, "Search"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const search = new URLSearchParams();
    for (const field of FIELDS) {
      const v = String(data.get(field) ?? "").trim();
      if (v) search.set(field, v);
    }
    navigate(`/ui/search?${search}`);
  });
  const results = h("section", { "aria-label": "Results" });
  app.append(h("h1", {}, "Search the catalog"), form, results);
  try {
    const answer = await api.search({ ...params, limit: 200 });
    results.append(
      h("h2", {}, `${answer.results.length} result${answer.results.length === 1 ? "" : "s"}`),
      answer.results.length
        ? table(
            ["Name", "Kind", "Namespace", "Version", "Owners", "Labels", "First seen"],
            answer.results.map((node) => [
              node.redacted ? "[redacted]" : link(nodeHref(node.id), node.name ?? node.id),
              node.kind,
              node.namespace ?? "",
              h("span", { class: "mono" }, shortVersion(node.version)),
              (node.owners ?? []).join(", "),
              (node.labels ?? []).map((l) => h("span", { class: "label" }, l)),
              when(node.first_seen),
            ]),
          )
        : message("info", "Nothing matches."),
    );
  } catch (error) {
    results.append(message("error", errorText(error)));
  }
  if (!url.search) await recentRuns(app);
}

async function recentRuns(app: HTMLElement): Promise<void> {
  const section = h("section", { "aria-label": "Recent runs" }, h("h2", {}, "Recent runs"));
  app.append(section);
  try {
    const { runs } = await api.log({ limit: 15 });
    section.append(
      table(
        ["Run", "Job", "State", "Started", "Reason"],
        runs.map((run) => [
          link(runHref(run.run_id), h("span", { class: "mono" }, run.run_id.slice(0, 13))),
          run.job,
          h("span", { class: `state ${run.state.toLowerCase()}` }, run.state),
          when(run.started),
          run.reason ?? "",
        ]),
      ),
    );
  } catch (error) {
    section.append(message("error", errorText(error)));
  }
}

function select(name: string, options: string[], current: string): HTMLSelectElement {
  return h(
    "select",
    { name },
    options.map((option) => h("option", { value: option, selected: option === current }, option || "any")),
  );
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.status} ${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

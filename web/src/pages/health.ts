// The health dashboard: open findings by check and namespace, counts over time, and each
// finding with its explanation and fix hint.

import { api } from "../api";
import type { Finding, HealthAnswer, HealthHistory } from "../api";
import { h, link, message, nodeHref, table, when } from "../dom";
import { navigate } from "../router";
import { errorText } from "./search";

const SEVERITIES = ["error", "warn", "info"] as const;

export async function healthPage(app: HTMLElement, url: URL): Promise<void> {
  const namespace = url.searchParams.get("namespace") ?? "";
  const severity = url.searchParams.get("severity") ?? "";
  const check = url.searchParams.get("check") ?? "";
  app.append(h("h1", {}, "Lineage health"));
  let report: HealthAnswer;
  try {
    report = await api.health({ namespace });
  } catch (error) {
    app.append(message("error", errorText(error)));
    return;
  }
  const checked = new Date(report.checked_at_us / 1000).toISOString();
  app.append(
    h(
      "p",
      { class: "summary" },
      SEVERITIES.map((s) => h("span", { class: `count ${s}`, "data-severity": s }, `${report.counts[s] ?? 0} ${s}`)),
      h("span", { class: "muted" }, ` checked ${when(checked)} in ${report.seconds} s`),
    ),
  );
  app.append(matrix(report.findings, url));
  app.append(await history());
  const shown = report.findings.filter(
    (f) => (!severity || f.severity === severity) && (!check || f.check === check),
  );
  app.append(filters(url, namespace, severity, check, report.findings));
  app.append(
    h(
      "section",
      { "aria-label": "Findings" },
      h("h2", {}, `Findings (${shown.length})`),
      shown.length
        ? table(
            ["Severity", "Check", "Node", "Namespace", "What", "Fix"],
            shown.map((f) => [
              h("span", { class: `severity ${f.severity}` }, f.severity),
              f.check,
              f.node ? link(nodeHref(f.node), f.node) : "—",
              f.namespace,
              f.message,
              h("span", { class: "muted" }, f.hint),
            ]),
          )
        : message("info", "No findings: the lineage is healthy."),
    ),
  );
}

function matrix(findings: Finding[], url: URL): HTMLElement {
  const checks = [...new Set(findings.map((f) => f.check))].sort();
  const namespaces = [...new Set(findings.map((f) => f.namespace))].sort();
  const count = (c: string, ns: string) => findings.filter((f) => f.check === c && f.namespace === ns).length;
  const section = h("section", { "aria-label": "Findings by check and namespace" }, h("h2", {}, "Open findings by check and namespace"));
  if (!checks.length) {
    section.append(h("p", { class: "muted" }, "Nothing open."));
    return section;
  }
  section.append(
    table(
      ["Check", ...namespaces, "All"],
      checks.map((c) => [
        link(`${url.pathname}?${withParam(url, "check", c)}`, c),
        ...namespaces.map((ns) => String(count(c, ns) || "")),
        String(findings.filter((f) => f.check === c).length),
      ]),
    ),
  );
  return section;
}

async function history(): Promise<HTMLElement> {
  const section = h("section", { "aria-label": "Counts over time" }, h("h2", {}, "Counts over time"));
  let answer: HealthHistory;
  try {
    answer = await api.healthHistory();
  } catch (error) {
    section.append(message("error", errorText(error)));
    return section;
  }
  const points = answer.points;
  if (points.length < 2) {
    section.append(h("p", { class: "muted" }, "The server's scheduled checks draw this once they have run twice."));
    return section;
  }
  section.append(chart(points));
  const last = points[points.length - 1];
  section.append(
    table(
      ["Checked", ...SEVERITIES],
      points.slice(-10).reverse().map((p) => [when(new Date(p.at_us / 1000).toISOString()), ...SEVERITIES.map((s) => String(p.counts[s] ?? 0))]),
      `Last ${Math.min(10, points.length)} of ${points.length} checks; latest ${when(new Date(last.at_us / 1000).toISOString())}`,
    ),
  );
  return section;
}

/** A small line chart of findings per severity (inline SVG: a chart, not a graph layout). */
function chart(points: HealthHistory["points"]): SVGSVGElement {
  const width = 640;
  const height = 140;
  const max = Math.max(1, ...points.flatMap((p) => SEVERITIES.map((s) => p.counts[s] ?? 0)));
  const first = points[0].at_us;
  const span = Math.max(1, points[points.length - 1].at_us - first);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "history-chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Findings per severity over ${points.length} checks`);
  for (const severity of SEVERITIES) {
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute(
      "points",
      points
        .map((p) => `${(((p.at_us - first) / span) * (width - 20) + 10).toFixed(1)},${(height - 10 - ((p.counts[severity] ?? 0) / max) * (height - 20)).toFixed(1)}`)
        .join(" "),
    );
    line.setAttribute("class", `line ${severity}`);
    svg.append(line);
  }
  return svg;
}

function filters(url: URL, namespace: string, severity: string, check: string, findings: Finding[]): HTMLElement {
  const form = h(
    "form",
    { class: "controls", "aria-label": "Filter findings" },
    h("label", {}, "Namespace ", h("input", { name: "namespace", value: namespace })),
    h(
      "label",
      {},
      "Severity ",
      h("select", { name: "severity" }, ["", ...SEVERITIES].map((s) => h("option", { value: s, selected: s === severity }, s || "any"))),
    ),
    h(
      "label",
      {},
      "Check ",
      h(
        "select",
        { name: "check" },
        ["", ...new Set([check, ...findings.map((f) => f.check)].filter(Boolean))].map((c) => h("option", { value: c, selected: c === check }, c || "any")),
      ),
    ),
    h("button", { type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next = new URLSearchParams();
    for (const key of ["namespace", "severity", "check"]) {
      const v = String(data.get(key) ?? "").trim();
      if (v) next.set(key, v);
    }
    navigate(`${url.pathname}?${next}`);
  });
  return form;
}

function withParam(url: URL, key: string, v: string): string {
  const next = new URLSearchParams(url.search);
  next.set(key, v);
  return next.toString();
}

// The interactive lineage graph: Cytoscape.js laid out by dagre (left to right, sources
// first), with a text outline of the same nodes beside it for screen readers, keyboard
// users and tests.

import cytoscape from "cytoscape";
import type { Core, ElementDefinition } from "cytoscape";
import dagre from "cytoscape-dagre";
import type { Graph, GraphEdge, GraphNode } from "./api";
import { h, link, nodeHref, present, shortVersion } from "./dom";

cytoscape.use(dagre);

/** Pipeline stages, in order, with their colours (jobs are drawn in their stage's colour). */
export const STAGES: Array<[string, string]> = [
  ["ingestion", "#4e79a7"],
  ["features", "#59a14f"],
  ["training", "#f28e2b"],
  ["validation", "#edc948"],
  ["registration", "#b07aa1"],
  ["deployment", "#e15759"],
  ["scoring", "#76b7b2"],
];
const STAGE_COLOUR = new Map(STAGES);

const KIND_SHAPE: Record<string, string> = {
  job: "round-rectangle",
  dataset: "barrel",
  features: "barrel",
  model: "hexagon",
  deployment: "diamond",
  predictions: "tag",
};

export function label(node: GraphNode): string {
  if (node.redacted) return "[redacted]";
  const name = node.name ?? node.id;
  const tail = name.split("/").filter(Boolean).pop() ?? name;
  return tail.length > 40 ? `${tail.slice(0, 37)}…` : tail;
}

export interface GraphViewOptions {
  root: string;
  /** Called when a node is clicked: answers the neighbourhood to merge in. */
  expand: (id: string) => Promise<Graph[]>;
  /** Called with every node the view holds after a change. */
  onChange?: (nodes: GraphNode[]) => void;
}

export class GraphView {
  readonly element: HTMLElement;
  readonly outline: HTMLElement;
  readonly details: HTMLElement;
  private readonly canvas: HTMLElement;
  private cy: Core | null = null;
  private readonly nodes = new Map<string, GraphNode>();
  private readonly edges = new Map<string, GraphEdge>();
  private readonly expanded = new Set<string>();
  private truncated = false;

  constructor(private readonly options: GraphViewOptions) {
    this.canvas = h("div", { class: "graph-canvas", role: "img", "aria-label": "Lineage graph" });
    this.details = h("aside", { class: "graph-details", "aria-live": "polite" });
    this.outline = h("section", { class: "outline", "aria-label": "Graph outline" });
    this.element = h(
      "div",
      { class: "graph" },
      h("div", { class: "graph-main" }, this.canvas, this.details),
      legend(),
      this.outline,
    );
  }

  /** Draw the first answers; resolves once the layout has run and the graph is on screen. */
  async show(graphs: Graph[]): Promise<void> {
    this.merge(graphs);
    this.expanded.add(this.options.root);
    const started = performance.now();
    this.cy = cytoscape({
      container: this.canvas,
      elements: this.elements(),
      style: STYLE,
      // No layout at creation (the default grid would be thrown away by ours).
      layout: { name: "preset" },
      minZoom: 0.05,
      maxZoom: 3,
    });
    // The drawn graph, for the browser console and for tests that click where a node is.
    (window as unknown as { threadlineGraph: Core }).threadlineGraph = this.cy;
    this.cy.on("tap", "node", (event) => void this.select(event.target.id() as string));
    const built = performance.now();
    await this.layout();
    this.canvas.dataset.initMs = String(Math.round(built - started));
    performance.mark("threadline:graph-rendered");
    this.canvas.dataset.renderMs = String(Math.round(performance.now() - started));
    this.canvas.dataset.nodes = String(this.nodes.size);
    this.renderOutline();
    const root = this.nodes.get(this.options.root);
    if (root) this.renderDetails(root, false);
  }

  /** Select a node and, the first time, bring in its neighbourhood. */
  async select(id: string): Promise<void> {
    const node = this.nodes.get(id);
    if (!node) return;
    this.cy?.$("node:selected").unselect();
    this.cy?.$id(id).select();
    this.renderDetails(node, !this.expanded.has(id));
    if (!this.expanded.has(id) && !node.redacted) await this.expandNode(id);
  }

  async expandNode(id: string): Promise<void> {
    this.expanded.add(id);
    const before = this.nodes.size;
    this.details.dataset.expanding = "true";
    try {
      const graphs = await this.options.expand(id);
      const added = this.merge(graphs);
      if (added.length && this.cy) {
        this.cy.add(this.elements().filter((e) => !this.cy!.getElementById(e.data.id!).length));
        await this.layout();
      }
      this.renderOutline();
      const node = this.nodes.get(id);
      if (node) this.renderDetails(node, false, this.nodes.size - before);
    } finally {
      delete this.details.dataset.expanding;
    }
  }

  private merge(graphs: Graph[]): string[] {
    const added: string[] = [];
    for (const graph of graphs) {
      this.truncated ||= graph.truncated;
      for (const node of graph.nodes) {
        if (!this.nodes.has(node.id)) added.push(node.id);
        this.nodes.set(node.id, { ...this.nodes.get(node.id), ...node });
      }
      for (const edge of graph.edges) this.edges.set(`${edge.from}→${edge.to}`, edge);
    }
    this.options.onChange?.([...this.nodes.values()]);
    return added;
  }

  private elements(): ElementDefinition[] {
    const nodes: ElementDefinition[] = [...this.nodes.values()].map((node) => ({
      group: "nodes",
      data: {
        id: node.id,
        label: label(node),
        kind: node.kind,
        colour: node.redacted ? "#bbbbbb" : (STAGE_COLOUR.get(node.stage ?? "") ?? kindColour(node.kind)),
        shape: KIND_SHAPE[node.kind] ?? "ellipse",
      },
      classes: [node.redacted ? "redacted" : "", node.id === this.options.root ? "root" : ""].join(" "),
    }));
    const edges: ElementDefinition[] = [...this.edges.entries()]
      .filter(([, e]) => this.nodes.has(e.from) && this.nodes.has(e.to))
      .map(([key, e]) => ({ group: "edges", data: { id: key, source: e.from, target: e.to, relation: e.relation } }));
    return [...nodes, ...edges];
  }

  private layout(): Promise<void> {
    const cy = this.cy;
    if (!cy) return Promise.resolve();
    return new Promise((resolve) => {
      const layout = cy.layout({
        name: "dagre",
        rankDir: "LR",
        nodeSep: 18,
        rankSep: 60,
        // network-simplex (the default) took ~1 s of a 500-node first render; longest-path
        // ranks a DAG in linear time, and lineage graphs are DAGs.
        ranker: "longest-path",
        animate: false,
        fit: true,
        padding: 20,
      } as cytoscape.LayoutOptions);
      layout.one("layoutstop", () => resolve());
      layout.run();
    });
  }

  private renderDetails(node: GraphNode, expanding: boolean, added?: number): void {
    this.details.replaceChildren(
      ...present(
      h("h3", {}, node.redacted ? "[redacted]" : (node.name ?? node.id)),
      h(
        "dl",
        {},
        h("dt", {}, "kind"),
        h("dd", {}, node.kind),
        node.stage ? [h("dt", {}, "stage"), h("dd", {}, node.stage)] : null,
        node.version ? [h("dt", {}, "version"), h("dd", { class: "mono" }, shortVersion(node.version))] : null,
        node.redacted ? [h("dt", {}, "hidden"), h("dd", {}, `by ${node.redacted}`)] : null,
      ),
      node.redacted ? null : link(nodeHref(node.id), "Open this node's page"),
      expanding ? h("p", { class: "muted" }, "Expanding…") : null,
      added !== undefined ? h("p", { class: "muted" }, `Expanded: ${added} new node${added === 1 ? "" : "s"}.`) : null,
      ),
    );
  }

  private renderOutline(): void {
    const sorted = [...this.nodes.values()].sort(
      (a, b) => (a.id === this.options.root ? -1 : b.id === this.options.root ? 1 : 0) ||
        a.kind.localeCompare(b.kind) || label(a).localeCompare(label(b)),
    );
    this.outline.replaceChildren(
      ...present(
      h("h3", {}, `Outline: ${this.nodes.size} node${this.nodes.size === 1 ? "" : "s"}, ${this.edges.size} edges`),
      this.truncated ? h("p", { class: "message info" }, "The graph was cut at its node limit: raise the depth carefully or open a node to see past it.") : null,
      h(
        "ul",
        { class: "outline-list" },
        sorted.map((node) =>
          h(
            "li",
            { "data-id": node.id, "data-kind": node.kind, class: node.redacted ? "redacted" : "" },
            node.redacted
              ? h("span", { class: "name" }, "[redacted]")
              : link(nodeHref(node.id), h("span", { class: "name" }, node.name ?? node.id)),
            " ",
            h("span", { class: "kind" }, node.kind),
            node.stage ? h("span", { class: "stage" }, node.stage) : null,
            node.version ? h("span", { class: "version mono" }, shortVersion(node.version)) : null,
            node.archived ? h("span", { class: "tag archived", title: node.archived }, "archived") : null,
            node.erased ? h("span", { class: "tag erased", title: `rule ${node.erased}` }, "erased") : null,
            node.redacted || this.expanded.has(node.id)
              ? null
              : h("button", { type: "button", class: "expand", onclick: () => void this.select(node.id) }, "Expand"),
          ),
        ),
      ),
      ),
    );
  }
}

function kindColour(kind: string): string {
  switch (kind) {
    case "model":
      return "#b07aa1";
    case "deployment":
      return "#e15759";
    case "predictions":
      return "#76b7b2";
    case "features":
      return "#59a14f";
    default:
      return "#9c9c9c";
  }
}

function legend(): HTMLElement {
  return h(
    "ul",
    { class: "legend", "aria-label": "Stage colours" },
    STAGES.map(([stage, colour]) =>
      h("li", {}, h("span", { class: "swatch", style: `background:${colour}` }), stage),
    ),
    h("li", {}, h("span", { class: "swatch redacted" }), "redacted"),
  );
}

const STYLE: cytoscape.StylesheetJson = [
  {
    selector: "node",
    style: {
      label: "data(label)",
      "background-color": "data(colour)",
      shape: "data(shape)" as never,
      "font-size": 10,
      "text-valign": "bottom",
      "text-margin-y": 4,
      width: 26,
      height: 22,
      "border-width": 1,
      "border-color": "#555",
    },
  },
  { selector: "node.root", style: { "border-width": 4, "border-color": "#222" } },
  { selector: "node.redacted", style: { "border-style": "dashed", color: "#777" } },
  { selector: "node:selected", style: { "border-width": 4, "border-color": "#0a58ca" } },
  {
    selector: "edge",
    style: {
      width: 1.2,
      "line-color": "#999",
      "target-arrow-color": "#999",
      "target-arrow-shape": "triangle",
      "curve-style": "bezier",
    },
  },
];

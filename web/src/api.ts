// Every call the UI makes to the threadline server, with the API token (when the server
// runs with --auth) taken from this browser tab's session storage.

const TOKEN_KEY = "threadline.token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value: string): void {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Listeners told when the server asks for credentials (401) or refuses them (403). */
const authListeners: Array<(status: number) => void> = [];
export function onAuthNeeded(listener: (status: number) => void): void {
  authListeners.push(listener);
}

export type Params = Record<string, string | number | null | undefined>;

export function query(params: Params): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export async function get<T>(path: string, params: Params = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const bearer = token();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const response = await fetch(path + query(params), { headers });
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401 || response.status === 403) {
      for (const listener of authListeners) listener(response.status);
    }
    const error = (body ?? {}) as { error?: string; message?: string };
    throw new ApiError(
      response.status,
      error.error ?? "http_error",
      error.message ?? `${response.status} ${response.statusText}`,
    );
  }
  return body as T;
}

// --- the answers' shapes (the query layer's to_dict() JSON) -----------------------------------

export interface GraphNode {
  id: string;
  kind: string;
  namespace?: string;
  name?: string;
  version?: string;
  first_seen?: string;
  stage?: string;
  owners?: string[];
  labels?: string[];
  columns?: string[];
  redacted?: string;
  /** The archive file the record that made this version is read from (cold storage). */
  archived?: string;
  /** The lifecycle rule that erased what this version held. */
  erased?: string;
  job?: string;
  runs?: { count: number; ids?: string[]; states?: string[]; last_seen?: string };
  code?: { commit?: string; dirty?: boolean; branch?: string; script?: string };
  parameters?: Record<string, unknown>;
  reason?: string;
  user?: string;
  host?: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  relation: string;
}

export interface Graph {
  root: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  truncated: boolean;
  row?: RowTrace;
}

export interface RowTrace {
  dataset: string;
  row: number;
  rows?: number;
  columns?: string[];
  chain?: Array<{ dataset: string; row: number | null; rows?: number }>;
  model?: string | null;
  deployment?: { id: string; endpoint?: string; environment?: string } | null;
  features?: string[];
  training_data?: string[];
  [key: string]: unknown;
}

export interface RunSummary {
  run_id: string;
  job: string;
  execution: string;
  state: string;
  started: string | null;
  ended: string | null;
  user: string | null;
  host: string | null;
  commit: string | null;
  dirty: boolean | null;
  reason: string | null;
  error: string | null;
}

export interface Show {
  node: GraphNode;
  facets: Record<string, Record<string, unknown>>;
  runs: RunSummary[];
  upstream: number;
  downstream: number;
  versions: {
    count: number;
    recent: Array<{ version: string; id: string; first_seen: string; current: boolean }>;
  };
  threadline_validation: unknown[];
}

export interface SearchAnswer {
  query: Record<string, string>;
  results: GraphNode[];
}

export interface Change {
  key: string;
  change: string;
  a: unknown;
  b: unknown;
}

export interface Diff {
  a: { id: string; executions: string[] };
  b: { id: string; executions: string[] };
  identical: boolean;
  inputs: Change[];
  parameters: Change[];
  code: Change[];
  upstream: Change[];
  metrics: Change[];
  truncated: boolean;
  notes: string[];
}

export interface Finding {
  check: string;
  family: string;
  severity: "info" | "warn" | "error";
  node: string;
  namespace: string;
  message: string;
  hint: string;
}

export interface HealthAnswer {
  checked_at_us: number;
  seconds: number;
  checks: string[];
  counts: Record<string, number>;
  findings: Finding[];
  omitted?: Record<string, unknown>;
}

export interface HealthHistory {
  every_seconds: number;
  points: Array<{ at_us: number; counts: Record<string, number> }>;
}

export interface MarquezRun {
  id: string;
  state: string;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  jobVersion: { namespace: string; name: string; version: string } | null;
  inputDatasetVersions: Array<{ datasetVersionId: { namespace: string; name: string; version: string } }>;
  outputDatasetVersions: Array<{ datasetVersionId: { namespace: string; name: string; version: string } }>;
  facets: Record<string, Record<string, unknown>>;
}

export const api = {
  search: (params: Params) => get<SearchAnswer>("/api/v1/threadline/search", params),
  show: (id: string, asOf?: string | null) =>
    get<Show>("/api/v1/threadline/show", { id, as_of: asOf }),
  trace: (id: string, depth: number, asOf?: string | null, row?: number | null) =>
    get<Graph>("/api/v1/threadline/trace", { id, depth, as_of: asOf, row, limit: 2000 }),
  impact: (id: string, depth: number, asOf?: string | null) =>
    get<Graph>("/api/v1/threadline/impact", { id, depth, as_of: asOf, limit: 2000 }),
  diff: (a: string, b: string) => get<Diff>("/api/v1/threadline/diff", { a, b }),
  log: (params: Params) => get<{ runs: RunSummary[] }>("/api/v1/threadline/log", params),
  run: (runId: string) => get<MarquezRun>(`/api/v1/jobs/runs/${encodeURIComponent(runId)}`),
  health: (params: Params) => get<HealthAnswer>("/api/v1/threadline/health", params),
  healthHistory: () => get<HealthHistory>("/api/v1/threadline/health/history"),
};

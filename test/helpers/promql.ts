// What the shipped dashboard and alert rules ask Prometheus for, and what a /metrics text offers:
// enough to check that deploy/ uses only metric names weftd exports. Not a PromQL parser: it
// drops strings, label matchers, ranges and grouping lists, then every identifier that is not a
// function call or a keyword is a metric name.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export const DASHBOARD = new URL('../../deploy/grafana/weft.json', import.meta.url);
export const RULES = new URL('../../deploy/prometheus/weft-rules.yaml', import.meta.url);

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);

/** Metric names an expression reads. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\$\w+/g, '');
  const names = new Set<string>();
  for (const m of bare.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?/g)) {
    if (m[2] === undefined && !KEYWORDS.has(m[1].toLowerCase())) names.add(m[1]);
  }
  return [...names];
}

/** Sample names an exposition text can have: each `# TYPE` family (with _bucket/_sum/_count for histograms and summaries). */
export function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    if (type === 'histogram' || type === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
  }
  return names;
}

interface Panel {
  readonly id?: number;
  readonly type: string;
  readonly title?: string;
  readonly targets?: readonly { readonly expr?: string; readonly refId?: string }[];
  readonly panels?: readonly Panel[];
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly { readonly query?: { readonly query?: string } | string }[] };
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
}

/** Every panel, rows' nested panels included. */
export function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Each query of the dashboard with where it is, template variables included (label_values(metric, label) as the metric). */
export function dashboardQueries(d: Dashboard): { where: string; expr: string }[] {
  const out = allPanels(d).flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr ?? '' })));
  for (const v of d.templating.list) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query ?? '';
    const lv = /^label_values\((\w+),\s*\w+\)$/.exec(q);
    out.push({ where: 'template variable', expr: lv ? lv[1] : q });
  }
  return out;
}

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
}

export function readRules(): AlertRule[] {
  const doc = parseYaml(readFileSync(RULES, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

/** Names used by the dashboard and the rules that `exported` lacks, with where they are used. */
export function unknownNames(exported: ReadonlySet<string>): string[] {
  const uses = [...dashboardQueries(readDashboard()), ...readRules().map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))];
  return uses.flatMap((u) => metricNames(u.expr).filter((n) => !exported.has(n)).map((n) => `${n} (${u.where})`));
}

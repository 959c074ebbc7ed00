/**
 * `GET /api/datasets`: what the store's run records say about each dataset, for dashboards: its
 * class names (the spec's `dataset.classes`, index = label), the source kind (`video` for clips)
 * and the models run over it. The newest record of a dataset wins. Read from `runs/*.json` once
 * per store generation (a new run may bring a new record).
 */
import type { Hono } from 'hono';
import { listRunIds, readRun } from '../storage/runs.js';
import type { AppDeps } from './app.js';

export interface DatasetInfo {
  name: string;
  /** Class names by label, or null when the spec names none. */
  classes: string[] | null;
  /** The source kind of the newest run (idx, folder, manifest, video, ...). */
  kind: string | null;
  models: string[];
  /** The newest run over it. */
  run_id: string;
}

interface RawSpec {
  dataset?: { name?: unknown; classes?: unknown; source?: { kind?: unknown } };
  model?: { name?: unknown };
}

async function readDatasets(storeDir: string): Promise<DatasetInfo[]> {
  const byName = new Map<string, DatasetInfo>();
  // Run ids sort by time: the newest last, so its spec overrides the older ones.
  for (const id of await listRunIds(storeDir)) {
    const spec = (await readRun(storeDir, id)).spec as RawSpec | undefined;
    const name = spec?.dataset?.name;
    if (typeof name !== 'string') continue;
    const classes = Array.isArray(spec?.dataset?.classes) ? spec.dataset.classes.map(String) : null;
    const kind = typeof spec?.dataset?.source?.kind === 'string' ? spec.dataset.source.kind : null;
    const model = typeof spec?.model?.name === 'string' ? spec.model.name : null;
    const prev = byName.get(name);
    const models = [...new Set([...(prev?.models ?? []), ...(model ? [model] : [])])].sort();
    byName.set(name, { name, classes: classes ?? prev?.classes ?? null, kind: kind ?? prev?.kind ?? null, models, run_id: id });
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function mountDatasets(app: Hono, deps: Pick<AppDeps, 'store' | 'watch'>): void {
  let memo: { generation: string; datasets: Promise<DatasetInfo[]> } | undefined;
  app.get('/api/datasets', async (c) => {
    const gen = await deps.watch.generation();
    if (memo?.generation !== gen.id) {
      const datasets = readDatasets(deps.store.dir);
      // A failed read is not remembered: the next request reads again.
      datasets.catch(() => {
        if (memo?.datasets === datasets) memo = undefined;
      });
      memo = { generation: gen.id, datasets };
    }
    return c.json({ datasets: await memo.datasets });
  });
}

// Summarizes a V8 .cpuprofile (from node --cpu-prof): self time per function, top N.
import { readFileSync } from 'node:fs';

export function topFunctions(file, n = 12) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of prof.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const label = (cf) => {
    const where = cf.url
      ? `${cf.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')}:${cf.lineNumber + 1}`
      : '';
    return `${cf.functionName || '(anonymous)'} ${where}`.trim();
  };
  const inclusiveUs = new Map(); // Ferry's own functions (dist/src/), time including callees
  const selfUs = new Map();
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i] ?? 0;
    const node = byId.get(prof.samples[i]);
    if (!node) continue;
    total += dt;
    const key = label(node.callFrame);
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const cf = byId.get(id).callFrame;
      if (!cf.url.includes('/dist/src/')) continue;
      const k = label(cf);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusiveUs.set(k, (inclusiveUs.get(k) ?? 0) + dt);
    }
  }
  const idle = selfUs.get('(idle)') ?? 0;
  selfUs.delete('(idle)');
  const busy = total - idle;
  return {
    totalMs: total / 1000,
    busyMs: busy / 1000,
    /** Self time per function as a share of the busy (non-idle) time. */
    top: [...selfUs]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([fn, us]) => ({ fn, ms: Math.round(us / 100) / 10, pct: Math.round((1000 * us) / busy) / 10 })),
    /** Ferry's own functions by inclusive time (callees included), as a share of busy time. */
    ferryInclusive: [...inclusiveUs]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([fn, us]) => ({ fn, ms: Math.round(us / 100) / 10, pct: Math.round((1000 * us) / busy) / 10 })),
  };
}

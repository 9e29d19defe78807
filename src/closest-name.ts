// Which known name a misspelt one likely meant: the client's options and the server's (and the
// config file's) keys share it, so `securty` and `implicitt` get the same kind of answer.

/** The known name nearest to `name`, if near enough to be what was meant (about a third of it differs). */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const most = Math.max(1, Math.floor(name.length / 3));
  let best: { name: string; d: number } | undefined;
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d <= most && (best === undefined || d < best.d)) best = { name: candidate, d };
  }
  return best?.name;
}

/** Edits from a to b: insertions, deletions, substitutions and swaps of neighbours (`singal`). */
function distance(a: string, b: string): number {
  const w = b.length + 1;
  const d: number[] = [];
  const at = (i: number, j: number): number => d[i * w + j] ?? 0;
  for (let i = 0; i <= a.length; i++) {
    for (let j = 0; j <= b.length; j++) {
      if (i === 0 || j === 0) {
        d[i * w + j] = i + j;
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * w + j] = v;
    }
  }
  return at(a.length, b.length);
}

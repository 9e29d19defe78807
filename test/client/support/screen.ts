/**
 * What a terminal would show after some output: enough of VT100 for progress bars (text, CR, LF,
 * cursor up/down/column, erase in line and below; other control sequences are ignored). Lets tests
 * assert on what stays on screen rather than on escape codes.
 */
export function screenOf(output: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  const line = (): string => lines[row] ?? '';
  const set = (text: string): void => {
    while (lines.length <= row) lines.push('');
    lines[row] = text;
  };
  for (let i = 0; i < output.length; i++) {
    const ch = output[i] ?? '';
    if (ch === '\x1b') {
      // eslint-disable-next-line no-control-regex -- escape sequences are the input here
      const m = /^\x1b(?:\[([?\d;]*)([A-Za-z])|[78])/.exec(output.slice(i));
      if (!m) continue;
      i += m[0].length - 1;
      const n = Number((m[1] ?? '').replace('?', '') || '0');
      switch (m[2]) {
        case 'A':
          row = Math.max(0, row - (n || 1));
          break;
        case 'B':
          row += n || 1;
          break;
        case 'G':
          col = Math.max(0, (n || 1) - 1);
          break;
        case 'K':
          if (n === 2) set('');
          else if (n === 0) set(line().slice(0, col));
          break;
        case 'J':
          if (n === 0) {
            set(line().slice(0, col));
            lines.length = row + 1;
          }
          break;
      }
    } else if (ch === '\n') {
      row++;
      col = 0;
      set(line());
    } else if (ch === '\r') {
      col = 0;
    } else {
      const l = line().padEnd(col);
      set(l.slice(0, col) + ch + l.slice(col + 1));
      col++;
    }
  }
  return lines.map((l) => l.trimEnd()).filter((l) => l !== '');
}

import { Readable } from 'node:stream';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { StorageContext, VPath } from '../../src/storage/types.js';

/**
 * A backend whose `/held*.bin` files give one chunk, then nothing until the test calls finish(path):
 * HASHes of them stay running as long as a test needs, and which ones started (`reading`, in order)
 * says which HASHes got a turn.
 */
export class GatedStorage extends MemoryStorage {
  /** Held files whose hash has read the first chunk and asks for more, in that order. */
  readonly reading: string[] = [];
  readonly #ends = new Map<string, () => void>();
  #wake = (): void => {};

  /** Resolves once `n` held files are being hashed. */
  async readingCount(n: number): Promise<void> {
    while (this.reading.length < n) await new Promise<void>((resolve) => (this.#wake = resolve));
  }

  finish(p: string): void {
    this.#ends.get(p)?.();
  }

  override async openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<Readable> {
    if (!p.startsWith('/held')) return super.openRead(p, o, c);
    let first = true;
    const asked = (): void => {
      this.reading.push(p);
      this.#wake();
    };
    const s = new Readable({
      read() {
        if (first) this.push(Buffer.alloc(1024, 1));
        else asked();
        first = false;
      },
    });
    this.#ends.set(p, () => s.push(null));
    return s;
  }
}

/**
 * Tracks TLS record boundaries in a byte stream (RFC 8446 5.1: type(1) version(2) length(2)).
 * We need this because when a TLS session on the control connection ends (CCC, REIN), the bytes
 * that follow it in the same TCP stream belong to the next phase: plaintext FTP or a new
 * ClientHello. Only whole records of the old session may reach the old TLS engine.
 */
const ALERT = 21;
const APPLICATION_DATA = 23;
const HEADER = 5;

export class RecordSplitter {
  /** Bytes still owed to the record currently being forwarded. */
  private remaining = 0;
  private header = Buffer.alloc(0);

  /** While the session is live: forward everything, only keeping count of record boundaries. */
  track(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - i);
        this.remaining -= take;
        i += take;
        continue;
      }
      const need = HEADER - this.header.length;
      const part = chunk.subarray(i, i + need);
      this.header = this.header.length === 0 ? Buffer.from(part) : Buffer.concat([this.header, part]);
      i += part.length;
      if (this.header.length === HEADER) {
        this.remaining = this.header.readUInt16BE(3);
        this.header = Buffer.alloc(0);
      }
    }
  }

  /**
   * While the session is closing: split `chunk` into the bytes that still belong to the old session
   * (whole alert/application-data records, the only kinds an established session sends) and the
   * rest, which starts at the first byte that is not such a record. `rest` is undefined until the
   * boundary is found; partial headers are held back until they can be judged.
   */
  split(chunk: Buffer): { old: Buffer; rest: Buffer | undefined } {
    const olds: Buffer[] = [];
    let data = this.header.length > 0 ? Buffer.concat([this.header, chunk]) : chunk;
    this.header = Buffer.alloc(0);
    while (data.length > 0) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, data.length);
        olds.push(data.subarray(0, take));
        this.remaining -= take;
        data = data.subarray(take);
        continue;
      }
      const type = data[0];
      if ((type !== ALERT && type !== APPLICATION_DATA) || (data.length > 1 && data[1] !== 3)) {
        return { old: Buffer.concat(olds), rest: data };
      }
      if (data.length < HEADER) {
        this.header = Buffer.from(data);
        break;
      }
      this.remaining = data.readUInt16BE(3);
      olds.push(data.subarray(0, HEADER));
      data = data.subarray(HEADER);
    }
    return { old: Buffer.concat(olds), rest: undefined };
  }

  reset(): void {
    this.remaining = 0;
    this.header = Buffer.alloc(0);
  }
}

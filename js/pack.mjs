// Moves a request's fields into the Wasm module's scratch buffer (src/edge/mod.rs,
// `scratch`) as UTF-8, back to back, with the runtime's native encoder: no per-string
// allocation in Wasm and no per-character copy in JS. Rust reads them back with
// `RequestParts::unpack` (src/decide/request.rs) and takes the slow path if they do not fit.
const utf8 = new TextEncoder();

export class Pack {
  /** grow(size): a Uint8Array of at least `size` bytes to write into (wasm.scratch). */
  constructor(grow) {
    this.grow = grow;
    this.view = new Uint8Array(0);
  }

  /**
   * Forgets the view. The entry calls it whenever Wasm sends a request to the async path:
   * after a trap the module is instantiated again with a new memory, and a view of the old
   * one neither reads as empty nor reaches the new buffer (every request would then take
   * the async path); asking again costs one call.
   */
  reset() {
    this.view = new Uint8Array(0);
  }

  /**
   * Writes `fields` (strings, or null for an absent field) back to back and sets `lens[i]`
   * to field i's length in bytes (-1: absent). UTF-8 needs at most 3 bytes per UTF-16 unit,
   * so room for 3 per unit always fits; a view whose memory has grown since reads as empty
   * and is asked for again.
   */
  write(fields, lens) {
    let all = "";
    for (let i = 0; i < fields.length; i++) if (fields[i] !== null) all += fields[i];
    if (3 * all.length > this.view.length) this.view = this.grow(3 * all.length);
    // One native copy. As many bytes as units: every field is ASCII, one byte per unit.
    if (utf8.encodeInto(all, this.view).written === all.length) {
      for (let i = 0; i < fields.length; i++) lens[i] = fields[i] === null ? -1 : fields[i].length;
      return;
    }
    // Something wider than ASCII (rare in a request head): field by field.
    let at = 0;
    for (let i = 0; i < fields.length; i++) {
      if (fields[i] === null) {
        lens[i] = -1;
        continue;
      }
      lens[i] = utf8.encodeInto(fields[i], this.view.subarray(at)).written;
      at += lens[i];
    }
  }
}

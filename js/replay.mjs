// The DPoP replay ledger's Durable Object class (its logic is src/edge/replay.rs). workerd
// constructs one per object; it keeps only the state it is given and hands every call to
// Rust, so no Rust object outlives a Wasm instance re-created after a trap.
export function replayClass(wasm) {
  return class DpopReplay {
    constructor(state) {
      this.state = state;
      wasm.replayOpen(state);
    }
    fetch(request) {
      return wasm.replayFetch(this.state, request);
    }
    alarm() {
      return wasm.replayAlarm(this.state);
    }
  };
}

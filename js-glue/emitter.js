// emitter.js -- the one event emitter of the glue (Feed, SignalClient, the
// room of joinRoom): on/off, and an emit that keeps a listener's bug from
// breaking the code that fired the event (the error is rethrown apart,
// where it shows as an uncaught error, instead of unwinding the caller).

export class Emitter {
  constructor() {
    this._listeners = new Map(); // event name -> Set of functions
  }

  on(name, fn) {
    if (!this._listeners.has(name)) this._listeners.set(name, new Set());
    this._listeners.get(name).add(fn);
    return this;
  }

  off(name, fn) {
    this._listeners.get(name)?.delete(fn);
    return this;
  }

  _emit(name, value) {
    for (const fn of this._listeners.get(name) ?? []) {
      try {
        fn(value);
      } catch (err) {
        queueMicrotask(() => { throw err; });
      }
    }
  }

  _hasListeners(name) {
    return (this._listeners.get(name)?.size ?? 0) > 0;
  }
}

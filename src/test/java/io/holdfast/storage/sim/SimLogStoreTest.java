package io.holdfast.storage.sim;

import io.holdfast.base.Prng;
import io.holdfast.storage.LogStore;
import io.holdfast.storage.LogStoreContract;

/** The simulator's store holds the same contract as the file store. */
class SimLogStoreTest extends LogStoreContract {
  @Override
  protected LogStore create() {
    return new SimLogStore("test");
  }

  @Override
  protected LogStore reopen(LogStore store) {
    return store; // in memory: a restart of the process keeps what was written and synced
  }

  @Override
  protected LogStore crash(LogStore store) {
    SimLogStore s = (SimLogStore) store;
    s.crash(Prng.of(1), SimLogStore.CrashLoses.UNSYNCED_LOG_ONLY); // lose every unsynced entry, deterministically
    return s;
  }
}

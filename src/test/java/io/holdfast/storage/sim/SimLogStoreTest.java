package io.holdfast.storage.sim;

import io.holdfast.base.Prng;
import io.holdfast.storage.LogStore;
import io.holdfast.storage.LogStoreContract;

/** The simulator's store holds the same contract as the file store, and damages payloads the same way. */
class SimLogStoreTest extends LogStoreContract {
  @org.junit.jupiter.api.Test
  void damagedPayloadsKeepTheirIdentityAndARepairHealsThem() {
    SimLogStore s = new SimLogStore("t");
    s.write("a", io.holdfast.storage.LogWrite.append(1, entries(1, 20, 3)));
    s.sync();
    int damaged = s.corruptPayloads(Prng.of(7), "a", 5);
    var a = s.recovered().get("a");
    org.junit.jupiter.api.Assertions.assertTrue(damaged > 0);
    org.junit.jupiter.api.Assertions.assertEquals(damaged, a.faulty().size());
    org.junit.jupiter.api.Assertions.assertEquals(20, a.lastIndex(), "identities survive");
    for (long index : a.faulty().keySet()) {
      org.junit.jupiter.api.Assertions.assertEquals(0, a.entries().get((int) index - 1).data().length);
    }
    var repairs = new java.util.ArrayList<io.holdfast.raft.message.LogEntry>();
    for (long index : a.faulty().keySet()) {
      repairs.add(entries(index, index, 3).get(0));
    }
    s.write("a", new io.holdfast.storage.LogWrite(null, null, 0, java.util.List.of(), repairs));
    s.sync();
    org.junit.jupiter.api.Assertions.assertTrue(s.recovered().get("a").faulty().isEmpty());
    org.junit.jupiter.api.Assertions.assertEquals(entries(1, 20, 3), s.recovered().get("a").entries());
  }

  /**
   * The contract above runs with a crash that loses every unsynced write; the simulator's honest
   * disk ({@code UNSYNCED_WRITES}) may also keep some of them, torn at an entry boundary. What it
   * keeps is always everything synced plus a prefix of what followed, in order.
   */
  @org.junit.jupiter.api.Test
  void anHonestCrashKeepsWhatWasSyncedAndAtMostAPrefixOfTheRest() {
    java.util.List<io.holdfast.raft.message.LogEntry> written = entries(1, 9, 1);
    java.util.Set<Integer> lengths = new java.util.TreeSet<>();
    for (int seed = 1; seed <= 200; seed++) {
      SimLogStore s = new SimLogStore("t");
      s.write("a", io.holdfast.storage.LogWrite.append(1, entries(1, 3, 1)));
      s.sync();
      s.write("a", io.holdfast.storage.LogWrite.append(4, entries(4, 6, 1)));
      s.write("a", io.holdfast.storage.LogWrite.append(7, entries(7, 9, 1)));
      s.crash(Prng.of(seed), SimLogStore.CrashLoses.UNSYNCED_WRITES);
      var got = s.recovered().get("a").entries();
      org.junit.jupiter.api.Assertions.assertTrue(got.size() >= 3 && got.equals(written.subList(0, got.size())),
          "seed " + seed + ": " + got);
      lengths.add(got.size());
    }
    org.junit.jupiter.api.Assertions.assertEquals(java.util.Set.of(3, 4, 5, 6, 7, 8, 9), lengths,
        "every cut point from nothing unsynced kept to all of it happens");
  }

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

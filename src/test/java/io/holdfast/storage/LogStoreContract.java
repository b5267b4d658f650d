package io.holdfast.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.HardState;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.Snapshot;
import io.holdfast.raft.message.SnapshotMeta;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Goal: one definition of what a {@link LogStore} promises, held against every implementation
 * (the file store and the simulator's). Method: each test writes, syncs or crashes, reopens, and
 * compares what was recovered. Subclasses say how to open, reopen, and crash their store.
 */
public abstract class LogStoreContract {
  /** A fresh, empty store. */
  protected abstract LogStore create() throws Exception;

  /** The same store after a clean restart. */
  protected abstract LogStore reopen(LogStore store) throws Exception;

  /** The same store after power loss: everything not synced is gone. */
  protected abstract LogStore crash(LogStore store) throws Exception;

  protected static LogEntry entry(long index, long term, String data) {
    return new LogEntry(index, term, EntryType.COMMAND, data.getBytes(StandardCharsets.UTF_8));
  }

  protected static List<LogEntry> entries(long from, long to, long term) {
    List<LogEntry> out = new ArrayList<>();
    for (long i = from; i <= to; i++) {
      out.add(entry(i, term, "v" + i + "@" + term));
    }
    return out;
  }

  @Test
  void newStoreHasNoReplicas() throws Exception {
    try (LogStore s = create()) {
      assertTrue(s.recovered().isEmpty());
      assertTrue(s.createdFresh());
    }
  }

  @Test
  void syncedEntriesAndHardStateSurviveRestart() throws Exception {
    LogStore s = create();
    s.write("a", new LogWrite(new HardState(3, 2), null, 1, entries(1, 5, 3)));
    s.sync();
    s = reopen(s);
    RecoveredState a = s.recovered().get("a");
    assertEquals(new HardState(3, 2), a.hardState());
    assertEquals(entries(1, 5, 3), a.entries());
    assertFalse(a.damaged());
    s.close();
  }

  @Test
  void syncedWritesSurvivePowerLossAndUnsyncedOnesDoNot() throws Exception {
    LogStore s = create();
    s.write("a", LogWrite.append(1, entries(1, 3, 1)));
    s.sync();
    s.write("a", LogWrite.append(4, entries(4, 6, 1)));
    assertTrue(s.unsyncedBytes() > 0);
    s = crash(s);
    assertEquals(entries(1, 3, 1), s.recovered().get("a").entries());
    s.close();
  }

  @Test
  void aWriteReplacesTheSuffixFromItsFirstIndex() throws Exception {
    LogStore s = create();
    s.write("a", LogWrite.append(1, entries(1, 5, 1)));
    s.write("a", LogWrite.append(3, entries(3, 4, 2)));
    s.sync();
    s = reopen(s);
    List<LogEntry> expected = new ArrayList<>(entries(1, 2, 1));
    expected.addAll(entries(3, 4, 2));
    assertEquals(expected, s.recovered().get("a").entries());
    s.close();
  }

  @Test
  void theLatestHardStateWins() throws Exception {
    LogStore s = create();
    s.write("a", LogWrite.hardState(new HardState(1, 1)));
    s.write("a", LogWrite.hardState(new HardState(2, 0)));
    s.write("a", LogWrite.hardState(new HardState(2, 3)));
    s.sync();
    s = reopen(s);
    assertEquals(new HardState(2, 3), s.recovered().get("a").hardState());
    s.close();
  }

  @Test
  void aSnapshotDropsTheEntriesItCovers() throws Exception {
    LogStore s = create();
    Membership m = Membership.ofVoters(1, 2, 3);
    s.write("a", LogWrite.append(1, entries(1, 10, 2)));
    Snapshot snap = new Snapshot(new SnapshotMeta(6, 2, m), "state-at-6".getBytes(StandardCharsets.UTF_8));
    s.write("a", new LogWrite(null, snap, 0, List.of()));
    s.sync();
    s = reopen(s);
    RecoveredState a = s.recovered().get("a");
    assertEquals(snap, a.snapshot());
    assertEquals(entries(7, 10, 2), a.entries());
    assertEquals(10, a.lastIndex());
    s.close();
  }

  @Test
  void anInstalledSnapshotCanReplaceTheWholeLog() throws Exception {
    LogStore s = create();
    s.write("a", LogWrite.append(1, entries(1, 4, 1)));
    Snapshot snap = new Snapshot(new SnapshotMeta(20, 5, Membership.ofVoters(1)), new byte[] {1, 2, 3});
    s.write("a", new LogWrite(new HardState(5, 0), snap, 21, entries(21, 22, 5)));
    s.sync();
    s = reopen(s);
    RecoveredState a = s.recovered().get("a");
    assertEquals(20, a.snapshot().index());
    assertEquals(entries(21, 22, 5), a.entries());
    s.close();
  }

  @Test
  void replicasAreIndependentAndShareOneSync() throws Exception {
    LogStore s = create();
    for (int r = 0; r < 50; r++) {
      s.write("r" + r, new LogWrite(new HardState(r + 1, 0), null, 1, entries(1, r + 1, r + 1)));
    }
    s.sync();
    assertEquals(0, s.unsyncedBytes());
    s = crash(s);
    assertEquals(50, s.recovered().size());
    for (int r = 0; r < 50; r++) {
      assertEquals(entries(1, r + 1, r + 1), s.recovered().get("r" + r).entries());
    }
    s.close();
  }

  @Test
  void incarnationIsStableAcrossRestarts() throws Exception {
    LogStore s = create();
    String incarnation = s.incarnation();
    s.write("a", LogWrite.append(1, entries(1, 1, 1)));
    s.sync();
    s = reopen(s);
    assertEquals(incarnation, s.incarnation());
    assertFalse(s.createdFresh());
    s.close();
  }
}

package io.holdfast.raft.log;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.SnapshotMeta;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Goal: {@link RaftLog#bytesAfter} (what a leader reports as a follower's lag in bytes, kept in
 * O(1)) always equals the sum of the entries' weights after the index. Method: random appends,
 * repairs with other payload sizes, truncations and compactions, checked against the sum after
 * each step at every index.
 */
class RaftLogTest {
  @Test
  void bytesAfterIsTheSumOfTheEntriesAfterTheIndexThroughEveryChange() {
    SplittableRandom random = new SplittableRandom(11);
    RaftLog log = new RaftLog(new SnapshotMeta(0, 0, Membership.ofVoters(1)));
    for (int step = 0; step < 2000; step++) {
      int op = random.nextInt(10);
      if (op < 6 || log.lastIndex() == log.snapshotIndex()) {
        log.append(entry(log.lastIndex() + 1, Math.max(1, log.lastTerm()), random.nextInt(200)));
      } else if (op == 6) {
        long i = log.firstIndex() + random.nextLong(log.lastIndex() - log.snapshotIndex());
        log.replace(entry(i, log.term(i), random.nextInt(200)));
      } else if (op == 7) {
        log.truncateFrom(log.firstIndex() + random.nextLong(log.lastIndex() - log.snapshotIndex()));
      } else {
        long i = log.firstIndex() + random.nextLong(log.lastIndex() - log.snapshotIndex());
        log.compact(new SnapshotMeta(i, log.term(i), Membership.ofVoters(1)));
      }
      for (long index = log.snapshotIndex() - 1; index <= log.lastIndex() + 1; index++) {
        long sum = 0;
        for (long i = Math.max(index + 1, log.firstIndex()); i <= log.lastIndex(); i++) {
          sum += log.entry(i).weightBytes();
        }
        assertEquals(sum, log.bytesAfter(index), "after index " + index + " at step " + step);
      }
    }
  }

  private static LogEntry entry(long index, long term, int bytes) {
    return new LogEntry(index, term, EntryType.COMMAND, new byte[bytes]);
  }
}

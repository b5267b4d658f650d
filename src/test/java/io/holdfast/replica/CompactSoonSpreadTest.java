package io.holdfast.replica;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** How {@link ReplicaDriver#compactSoonDelay} spreads the replicas of one node told to snapshot at once. */
class CompactSoonSpreadTest {
  @Test
  void aThousandStreamsOfANodeSpreadOverTheWholeSpreadAndNoTickGetsManyOfThem() {
    Map<Integer, Integer> perTick = new HashMap<>();
    for (int stream = 1; stream <= 1000; stream++) {
      int delay = ReplicaDriver.compactSoonDelay("BENCH_" + stream + "-" + (stream + 5), 2);
      assertTrue(delay >= 1 && delay <= ReplicaDriver.COMPACT_SPREAD_TICKS, "delay " + delay);
      perTick.merge(delay, 1, Integer::sum);
    }
    // 10 per tick on average: every tick is used, and none gets more than 3x its share.
    assertTrue(perTick.size() >= ReplicaDriver.COMPACT_SPREAD_TICKS * 95 / 100, perTick.size() + " ticks used");
    int most = perTick.values().stream().mapToInt(Integer::intValue).max().orElseThrow();
    assertTrue(most <= 30, most + " replicas on one tick");
  }
}

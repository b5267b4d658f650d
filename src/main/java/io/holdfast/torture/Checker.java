package io.holdfast.torture;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** Counts a history the way Jepsen counts it. */
public final class Checker {
  private Checker() {}

  /** The history's counts. */
  public static final class Counts {
    /** The stream's replica count: a majority of them must be read. */
    final int replicas;
    long acked;
    long lost;
    long lostMiddle;
    long lostOnNode;
    long unexpected;
    long recovered;
    long duplicates;
    long misplaced;
    int readNodes;
    final List<String> notes = new ArrayList<>();
    /** Up to ten values stored more than once on a node, with the sequences they are at there. */
    final Map<String, List<Long>> duplicated = new TreeMap<>();

    Counts(int replicas) {
      this.replicas = replicas;
    }

    /** Nothing acked lost, no divergence, nothing invented, doubled or moved — read from a majority of the replicas. */
    public boolean valid() {
      return readNodes > replicas / 2 && lost == 0 && lostOnNode == 0 && unexpected == 0 && duplicates == 0
          && misplaced == 0;
    }

    public long acked() {
      return acked;
    }

    public long lost() {
      return lost;
    }

    public long lostMiddle() {
      return lostMiddle;
    }

    public long lostOnNode() {
      return lostOnNode;
    }

    public long unexpected() {
      return unexpected;
    }

    public long recovered() {
      return recovered;
    }

    public long duplicates() {
      return duplicates;
    }

    public long misplaced() {
      return misplaced;
    }

    public int readNodes() {
      return readNodes;
    }

    public List<String> notes() {
      return notes;
    }
  }

  /**
   * Counts a history from what each node holds ({@code replicas}: values by stream sequence from
   * 1, null for a hole), what clients attempted and what was acked (value → seq): lost (acked,
   * read nowhere), lost_middle (lost, while a later value of the same client was read),
   * lost_on_node (read on some node, missing on another), unexpected (read, never attempted),
   * recovered (read, not acked), duplicates (extra copies of a value on a node; no client retries
   * an ambiguous publish, so none is explained by a retry), misplaced (acked at one sequence,
   * stored at another). Values are {@code <client>-<counter>}.
   */
  static void count(Map<Integer, List<String>> replicas, Set<String> attempted, Map<String, Long> acked, Counts c) {
    Map<String, Integer> nodesHolding = new HashMap<>();
    Set<String> union = new HashSet<>();
    Set<String> misplaced = new HashSet<>();
    for (List<String> values : replicas.values()) {
      Map<String, Integer> copies = new HashMap<>();
      for (String v : values) {
        if (v != null) {
          copies.merge(v, 1, Integer::sum);
          union.add(v);
        }
      }
      for (int i = 0; i < values.size(); i++) {
        String v = values.get(i);
        if (v != null && copies.get(v) > 1 && (c.duplicated.size() < 10 || c.duplicated.containsKey(v))) {
          List<Long> at = c.duplicated.computeIfAbsent(v, k -> new ArrayList<>());
          if (at.size() < copies.get(v)) {
            at.add(i + 1L);
          }
        }
      }
      long extra = 0;
      for (var x : copies.entrySet()) {
        nodesHolding.merge(x.getKey(), 1, Integer::sum);
        extra += x.getValue() - 1;
      }
      c.duplicates = Math.max(c.duplicates, extra);
      for (var a : acked.entrySet()) {
        int at = (int) (a.getValue() - 1);
        if (copies.containsKey(a.getKey()) && (at >= values.size() || !a.getKey().equals(values.get(at)))) {
          misplaced.add(a.getKey());
        }
      }
    }
    c.misplaced = misplaced.size();
    for (int holding : nodesHolding.values()) {
      if (holding < replicas.size()) {
        c.lostOnNode++;
      }
    }
    Map<String, Long> newestReadOfClient = new HashMap<>();
    for (String v : union) {
      if (!attempted.contains(v)) {
        c.unexpected++;
        continue;
      }
      if (!acked.containsKey(v)) {
        c.recovered++;
      }
      String[] parts = v.split("-");
      newestReadOfClient.merge(parts[0], Long.parseLong(parts[1]), Math::max);
    }
    for (String v : acked.keySet()) {
      if (!union.contains(v)) {
        c.lost++;
        String[] parts = v.split("-");
        if (newestReadOfClient.getOrDefault(parts[0], 0L) > Long.parseLong(parts[1])) {
          c.lostMiddle++;
        }
      }
    }
  }
}

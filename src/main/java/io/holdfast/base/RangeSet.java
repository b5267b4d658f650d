package io.holdfast.base;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A set of {@code long}s kept as disjoint, non-adjacent closed ranges [from, to]: deleted
 * sequences of a stream, missing records of a store. Memory grows with the number of ranges, not
 * with how many numbers they hold. Deterministic iteration (ascending).
 */
public final class RangeSet {
  private final TreeMap<Long, Long> ranges = new TreeMap<>();
  private long count;

  public boolean isEmpty() {
    return ranges.isEmpty();
  }

  /** How many numbers the set holds. */
  public long count() {
    return count;
  }

  /** How many ranges the set holds (its memory). */
  public int rangeCount() {
    return ranges.size();
  }

  public boolean contains(long x) {
    Map.Entry<Long, Long> e = ranges.floorEntry(x);
    return e != null && e.getValue() >= x;
  }

  public void add(long x) {
    add(x, x);
  }

  /** Adds every number in [from, to] (nothing if to &lt; from). */
  public void add(long from, long to) {
    if (to < from) {
      return;
    }
    remove(from, to); // now nothing in the set overlaps [from, to]
    count += to - from + 1;
    long lo = from;
    long hi = to;
    Map.Entry<Long, Long> before = ranges.floorEntry(from - 1);
    if (before != null && before.getValue() == from - 1) {
      lo = before.getKey();
      ranges.remove(lo);
    }
    Long after = ranges.get(to + 1);
    if (after != null) {
      hi = after;
      ranges.remove(to + 1);
    }
    ranges.put(lo, hi);
  }

  public void remove(long x) {
    remove(x, x);
  }

  /** Removes every number in [from, to]. */
  public void remove(long from, long to) {
    if (to < from) {
      return;
    }
    Map.Entry<Long, Long> e = ranges.floorEntry(from);
    if (e != null && e.getValue() >= from) {
      long lo = e.getKey();
      long hi = e.getValue();
      ranges.remove(lo);
      count -= hi - lo + 1;
      if (lo < from) {
        ranges.put(lo, from - 1);
        count += from - lo;
      }
      if (hi > to) {
        ranges.put(to + 1, hi);
        count += hi - to;
        return;
      }
    }
    for (Map.Entry<Long, Long> n = ranges.ceilingEntry(from); n != null && n.getKey() <= to;
        n = ranges.ceilingEntry(from)) {
      ranges.remove(n.getKey());
      count -= n.getValue() - n.getKey() + 1;
      if (n.getValue() > to) {
        ranges.put(to + 1, n.getValue());
        count += n.getValue() - to;
      }
    }
  }

  /** Removes everything below {@code x}. */
  public void removeBelow(long x) {
    remove(Long.MIN_VALUE, x - 1);
  }

  /** The smallest number at or above {@code x} that is not in the set. */
  public long nextAbsent(long x) {
    Map.Entry<Long, Long> e = ranges.floorEntry(x);
    return e != null && e.getValue() >= x ? e.getValue() + 1 : x;
  }

  /** The largest number at or below {@code x} that is not in the set. */
  public long previousAbsent(long x) {
    Map.Entry<Long, Long> e = ranges.floorEntry(x);
    return e != null && e.getValue() >= x ? e.getKey() - 1 : x;
  }

  /** The smallest number in the set at or above {@code x}, or -1. */
  public long nextPresent(long x) {
    if (contains(x)) {
      return x;
    }
    Map.Entry<Long, Long> e = ranges.ceilingEntry(x);
    return e == null ? -1 : e.getKey();
  }

  /** The ranges, ascending, as {from, to} pairs. */
  public List<long[]> ranges() {
    List<long[]> out = new ArrayList<>(ranges.size());
    ranges.forEach((from, to) -> out.add(new long[] {from, to}));
    return out;
  }

  public void clear() {
    ranges.clear();
    count = 0;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RangeSet r && ranges.equals(r.ranges);
  }

  @Override
  public int hashCode() {
    return ranges.hashCode();
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("[");
    ranges.forEach((from, to) -> sb.append(sb.length() > 1 ? ", " : "").append(from)
        .append(from.equals(to) ? "" : ".." + to));
    return sb.append(']').toString();
  }
}

package io.holdfast.base;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** Goal: RangeSet answers as a plain set of longs would. Method: random adds and removes mirrored in a TreeSet. */
class RangeSetTest {
  @Test
  void behavesAsASetOfNumbers() {
    Prng prng = Prng.of(11);
    for (int round = 0; round < 200; round++) {
      RangeSet set = new RangeSet();
      TreeSet<Long> model = new TreeSet<>();
      for (int op = 0; op < 60; op++) {
        long from = prng.nextInt(100);
        long to = from + prng.nextInt(8) - 1;
        if (prng.chance(0.6)) {
          set.add(from, to);
          for (long x = from; x <= to; x++) {
            model.add(x);
          }
        } else {
          set.remove(from, to);
          for (long x = from; x <= to; x++) {
            model.remove(x);
          }
        }
        assertEquals(model.size(), set.count(), "count after op " + op + " of round " + round + ": " + set);
        for (long x = -1; x <= 110; x++) {
          assertEquals(model.contains(x), set.contains(x), "contains " + x);
          long absent = x;
          while (model.contains(absent)) {
            absent++;
          }
          assertEquals(absent, set.nextAbsent(x));
          Long present = model.ceiling(x);
          assertEquals(present == null ? -1 : present, set.nextPresent(x));
        }
      }
      long cut = prng.nextInt(100);
      set.removeBelow(cut);
      model.headSet(cut).clear();
      assertEquals(model.size(), set.count());
    }
  }
}

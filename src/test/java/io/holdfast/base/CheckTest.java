package io.holdfast.base;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Goal: an invariant check that fails says which values broke it; one that holds says nothing. */
class CheckTest {
  @Test
  void aFailedCheckFormatsItsValuesIntoTheMessage() {
    assertEquals("entry 7 outside 1..5", assertThrows(Check.InvariantViolation.class,
        () -> Check.that(false, "entry %d outside %d..%d", 7, 1, 5)).getMessage());
    assertEquals("append 9 after 4", assertThrows(Check.InvariantViolation.class,
        () -> Check.that(false, "append %d after %d", 9, 4)).getMessage());
    assertEquals("truncate into the snapshot at 3", assertThrows(Check.InvariantViolation.class,
        () -> Check.that(false, "truncate into the snapshot at %d", 3)).getMessage());
  }

  @Test
  void aCheckThatHoldsNeverFormats() {
    // A template that cannot be formatted with a long would throw if it were formatted.
    assertDoesNotThrow(() -> Check.that(true, "%s%q", 1, 2, 3));
  }
}

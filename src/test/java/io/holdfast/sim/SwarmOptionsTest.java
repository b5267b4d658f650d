package io.holdfast.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.holdfast.raft.RaftSettings;
import io.holdfast.storage.segment.SegmentStore;
import java.lang.reflect.Field;
import java.lang.reflect.RecordComponent;
import org.junit.jupiter.api.Test;

/**
 * Goal: the swarm knobs, built by name, land on the component of the same name (the one positional
 * construction in SwarmOptions.Builder.build cannot swap two of its 28 values unseen). Method: a
 * distinct value in every builder field, read back through each record accessor.
 */
class SwarmOptionsTest {
  @Test
  void everyBuilderFieldLandsOnItsNamesake() throws Exception {
    SwarmOptions.Builder b = new SwarmOptions.Builder();
    RecordComponent[] components = SwarmOptions.class.getRecordComponents();
    Object[] given = new Object[components.length];
    for (int i = 0; i < components.length; i++) {
      Field f = SwarmOptions.Builder.class.getDeclaredField(components[i].getName());
      given[i] = distinct(f.getType(), i);
      f.set(b, given[i]);
    }
    assertEquals(components.length, SwarmOptions.Builder.class.getDeclaredFields().length, "one field per knob");
    SwarmOptions built = b.build();
    for (int i = 0; i < components.length; i++) {
      assertEquals(given[i], components[i].getAccessor().invoke(built), components[i].getName());
    }
  }

  private static Object distinct(Class<?> type, int i) {
    if (type == int.class) {
      return 1000 + i;
    }
    if (type == long.class) {
      return 2000L + i;
    }
    if (type == double.class) {
      return 0.001 * (i + 1);
    }
    if (type == RaftSettings.class) {
      return RaftSettings.defaults().withApplyEntriesMax(100 + i);
    }
    if (type == SegmentStore.Options.class) {
      return new SegmentStore.Options(4096 + i, 8 + i);
    }
    throw new AssertionError("no distinct value for " + type);
  }
}

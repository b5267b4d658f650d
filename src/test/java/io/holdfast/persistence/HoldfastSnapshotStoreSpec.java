package io.holdfast.persistence;

import org.apache.pekko.persistence.CapabilityFlag;
import org.apache.pekko.persistence.japi.snapshot.JavaSnapshotStoreSpec;

/** Pekko's snapshot store TCK against {@link HoldfastSnapshotStore}, run as {@link HoldfastJournalSpec} runs the journal's. */
public class HoldfastSnapshotStoreSpec extends JavaSnapshotStoreSpec {
  public HoldfastSnapshotStoreSpec() {
    super(HoldfastJournalSpec.config("SnapshotStoreSpec"));
  }

  @Override
  public void beforeAll() {
    HoldfastJournalSpec.start("SnapshotStoreSpec", () -> {
      super.beforeAll();
      return system();
    });
  }

  @Override
  public void afterAll() {
    super.afterAll();
    HoldfastJournalSpec.stop("SnapshotStoreSpec");
  }

  @Override
  public CapabilityFlag supportsSerialization() {
    return CapabilityFlag.on();
  }
}

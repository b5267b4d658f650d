package io.holdfast.torture;

/** One fault family of the campaign: injects one fault of its kind and heals it. */
interface Fault {
  /** Its name in {@code --faults}. */
  String name();

  /** Injects one fault and heals it; returns what was done, or null if it could not be applied now. */
  String inject(Campaign c) throws Exception;
}

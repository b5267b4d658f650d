package io.holdfast.storage;

/**
 * Which bytes of a log entry's data to overwrite when a message is erased ({@link LogStore#erase}):
 * {offset, length} within the data, or null for none. The format that knows where a message lies
 * implements it as a value (a record), so a storage command carries data, never a closure, and
 * says in a log line what it erases.
 */
public interface EntryRegion {
  int[] within(byte[] entryData);
}

package io.holdfast.storage;

import java.util.List;

/**
 * What the replicas of a stream send each other about their message stores, beside Raft: a
 * replica that installs a snapshot (metadata only) fetches the messages it covers from a peer's
 * store, and one whose store lost or damaged messages fetches intact copies (D6). Records travel
 * as the store keeps them, checksummed; the receiver verifies each before it takes it.
 */
public sealed interface StoreMessage {
  int from();

  int to();

  /** Asks for the records from {@code fromSeq} to {@code toSeq}, about {@code bytesMax} of them (at least one). */
  record FetchRecords(int from, int to, long requestId, long fromSeq, long toSeq, long bytesMax)
      implements StoreMessage {}

  /**
   * The records asked for from {@code fromSeq}, in order: each the store's bytes of one message.
   * {@code next}: where to go on asking; {@code missing}: {from, to} ranges in what was asked for
   * that this replica does not hold intact (no longer in its stream, or damaged here too).
   */
  record Records(int from, int to, long requestId, long fromSeq, List<byte[]> records, long next,
      List<long[]> missing) implements StoreMessage {
    public Records {
      records = List.copyOf(records);
      missing = List.copyOf(missing);
    }

    public long bytes() {
      long n = 0;
      for (byte[] r : records) {
        n += r.length;
      }
      return n;
    }
  }
}

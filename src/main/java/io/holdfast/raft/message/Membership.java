package io.holdfast.raft.message;

import java.util.Collections;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The replicas of one Raft group: voters count toward quorums and may lead; learners receive the
 * log but do not vote. Changed one replica at a time (add learner, promote, remove), each change a
 * {@link EntryType#MEMBERSHIP} entry. Replica ids are positive integers.
 */
public record Membership(SortedSet<Integer> voters, SortedSet<Integer> learners) {
  public static final Membership EMPTY = new Membership(new TreeSet<>(), new TreeSet<>());

  public Membership {
    voters = Collections.unmodifiableSortedSet(new TreeSet<>(voters));
    learners = Collections.unmodifiableSortedSet(new TreeSet<>(learners));
    for (int id : voters) {
      if (id <= 0) {
        throw new IllegalArgumentException("replica ids are positive: " + id);
      }
      if (learners.contains(id)) {
        throw new IllegalArgumentException("replica " + id + " is both voter and learner");
      }
    }
    for (int id : learners) {
      if (id <= 0) {
        throw new IllegalArgumentException("replica ids are positive: " + id);
      }
    }
  }

  public static Membership ofVoters(int... ids) {
    TreeSet<Integer> voters = new TreeSet<>();
    for (int id : ids) {
      voters.add(id);
    }
    return new Membership(voters, new TreeSet<>());
  }

  public boolean isVoter(int id) {
    return voters.contains(id);
  }

  public boolean contains(int id) {
    return voters.contains(id) || learners.contains(id);
  }

  /** Every member, voters then learners, each set in ascending order. */
  public SortedSet<Integer> members() {
    TreeSet<Integer> all = new TreeSet<>(voters);
    all.addAll(learners);
    return all;
  }

  public int quorum() {
    return voters.size() / 2 + 1;
  }

  public Membership withLearner(int id) {
    TreeSet<Integer> l = new TreeSet<>(learners);
    l.add(id);
    return new Membership(voters, l);
  }

  public Membership promoted(int id) {
    TreeSet<Integer> v = new TreeSet<>(voters);
    TreeSet<Integer> l = new TreeSet<>(learners);
    l.remove(id);
    v.add(id);
    return new Membership(v, l);
  }

  public Membership without(int id) {
    TreeSet<Integer> v = new TreeSet<>(voters);
    TreeSet<Integer> l = new TreeSet<>(learners);
    v.remove(id);
    l.remove(id);
    return new Membership(v, l);
  }

  /** Encoded as: voter count, voters, learner count, learners; each a 4-byte big-endian int. */
  public byte[] encode() {
    byte[] out = new byte[4 * (2 + voters.size() + learners.size())];
    int at = putInt(out, 0, voters.size());
    for (int id : voters) {
      at = putInt(out, at, id);
    }
    at = putInt(out, at, learners.size());
    for (int id : learners) {
      at = putInt(out, at, id);
    }
    return out;
  }

  public static Membership decode(byte[] bytes) {
    int at = 0;
    TreeSet<Integer> v = new TreeSet<>();
    int voterCount = getInt(bytes, at);
    at += 4;
    for (int i = 0; i < voterCount; i++, at += 4) {
      v.add(getInt(bytes, at));
    }
    TreeSet<Integer> l = new TreeSet<>();
    int learnerCount = getInt(bytes, at);
    at += 4;
    for (int i = 0; i < learnerCount; i++, at += 4) {
      l.add(getInt(bytes, at));
    }
    if (at != bytes.length) {
      throw new IllegalArgumentException("membership encoding has " + (bytes.length - at) + " trailing bytes");
    }
    return new Membership(v, l);
  }

  private static int putInt(byte[] out, int at, int value) {
    out[at] = (byte) (value >>> 24);
    out[at + 1] = (byte) (value >>> 16);
    out[at + 2] = (byte) (value >>> 8);
    out[at + 3] = (byte) value;
    return at + 4;
  }

  private static int getInt(byte[] in, int at) {
    if (at + 4 > in.length) {
      throw new IllegalArgumentException("membership encoding is truncated");
    }
    return ((in[at] & 0xff) << 24) | ((in[at + 1] & 0xff) << 16) | ((in[at + 2] & 0xff) << 8) | (in[at + 3] & 0xff);
  }

  @Override
  public String toString() {
    return "voters=" + voters + (learners.isEmpty() ? "" : " learners=" + learners);
  }
}

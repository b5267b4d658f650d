package io.holdfast.transport;

import io.holdfast.raft.ProposeResult;
import io.holdfast.replica.ReplicaShell;
import io.holdfast.replica.Wire;
import io.holdfast.stream.Delivery;
import io.holdfast.stream.StoredMessage;
import io.holdfast.stream.StreamCommand;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.ByteBufferSerializer;
import org.apache.pekko.serialization.SerializerWithStringManifest;

/**
 * Binary layouts for what every client request sends between nodes: proposals forwarded to a
 * leader ({@link ReplicaShell.Propose}, {@link ReplicaShell.ProposeAll}) and the leader's replies
 * ({@link ReplicaShell.ProposeReply} one by one or {@link ReplicaShell.Replies} together, fetched
 * messages included). They went as Jackson CBOR
 * before: per message a polymorphic tree walk and an actor-ref string, which the profile of NATS
 * clients on a follower node put first among what a node spends its CPU on. Other client-facing
 * messages (reads, entity commands) are rare and stay CBOR ({@link CborMessage}).
 *
 * <p>Layout: big-endian; short strings as {@link StreamCommand.Writer#string}; messages as
 * {@link StreamCommand#writeMessage}. A {@code ProposeAll} writes each distinct reply-to ref once
 * (a batch of acks shares one) and refers to it by index (-1: none), then the proposal's ticket;
 * {@code Replies} are tickets and replies.
 */
public final class ProposalSerializer extends SerializerWithStringManifest implements ByteBufferSerializer {
  private static final String PROPOSE = "P1";
  // Version 2: forwarded proposals and their replies carry the proposing router's tickets, not the askers' refs.
  private static final String PROPOSE_ALL = "A2";
  private static final String REPLY = "R1";
  private static final String REPLIES = "Y2";

  private static final byte PUBLISH = 1;
  private static final byte CONSUME = 2;
  private static final byte STREAM_OP = 3;
  private static final byte META_CHANGE = 4;
  private static final byte PUBLISH_ATOMIC = 5;

  private static final byte APPLIED = 1;
  private static final byte REFUSED = 2;
  private static final byte SUPERSEDED = 3;
  private static final byte INVALID = 4;

  private static final byte SEQ = 1;
  private static final byte REJECTED = 2;
  private static final byte META_OUTCOME = 3;
  private static final byte DELIVERED = 4;

  private final ExtendedActorSystem system;
  private volatile ActorRefResolver resolver;

  public ProposalSerializer(ExtendedActorSystem system) {
    this.system = system;
  }

  /** Made on first use: the typed system is not complete while serializers are constructed. */
  private ActorRefResolver resolver() {
    ActorRefResolver r = resolver;
    if (r == null) {
      r = ActorRefResolver.get(Adapter.toTyped(system));
      resolver = r;
    }
    return r;
  }

  @Override
  public int identifier() {
    return 48_151_624; // unique among this system's serializers; never change once data is on the wire
  }

  @Override
  public String manifest(Object o) {
    if (o instanceof ReplicaShell.Propose) {
      return PROPOSE;
    }
    if (o instanceof ReplicaShell.ProposeAll) {
      return PROPOSE_ALL;
    }
    if (o instanceof ReplicaShell.ProposeReply) {
      return REPLY;
    }
    if (o instanceof ReplicaShell.Replies) {
      return REPLIES;
    }
    throw new IllegalArgumentException("cannot serialize " + o.getClass().getName());
  }

  @Override
  public byte[] toBinary(Object o) {
    StreamCommand.Writer w = new StreamCommand.Writer();
    write(o, w);
    return w.bytes();
  }

  /**
   * Straight into Artery's frame buffer: a batch of forwarded publishes or of fetched messages
   * (up to 320 KiB) is not built in a growing array, copied to its exact size and then copied
   * again into the frame.
   */
  @Override
  public void toBinary(Object o, ByteBuffer buf) {
    write(o, new StreamCommand.Writer(buf));
  }

  private void write(Object o, StreamCommand.Writer w) {
    if (o instanceof ReplicaShell.Propose p) {
      if (p.ticket() != 0) {
        throw new IllegalArgumentException("a Propose with a ticket travels in a ProposeAll, with its repliesVia");
      }
      ref(w, p.replyTo());
      proposal(w, p.proposal());
    } else if (o instanceof ReplicaShell.ProposeAll all) {
      Map<ActorRef<?>, Integer> refs = new IdentityHashMap<>(); // equals would build temporary refs' paths
      List<ActorRef<?>> table = new ArrayList<>();
      for (ReplicaShell.Propose p : all.proposals()) {
        if (p.replyTo() != null && refs.putIfAbsent(p.replyTo(), table.size()) == null) {
          table.add(p.replyTo());
        }
      }
      w.ensure(1);
      w.b.put((byte) (all.repliesVia() == null ? 0 : 1));
      if (all.repliesVia() != null) {
        leaderRef(w, all.repliesVia());
      }
      w.ensure(8);
      w.b.putInt(table.size());
      table.forEach(r -> ref(w, r));
      w.ensure(4);
      w.b.putInt(all.proposals().size());
      for (ReplicaShell.Propose p : all.proposals()) {
        w.ensure(12);
        w.b.putInt(p.replyTo() == null ? -1 : refs.get(p.replyTo())).putLong(p.ticket());
        proposal(w, p.proposal());
      }
    } else if (o instanceof ReplicaShell.ProposeReply r) {
      reply(w, r);
    } else if (o instanceof ReplicaShell.Replies all) {
      w.ensure(4);
      w.b.putInt(all.replies().size());
      for (ReplicaShell.Routed r : all.replies()) {
        w.ensure(8);
        w.b.putLong(r.ticket());
        reply(w, r.reply());
      }
    } else {
      throw new IllegalArgumentException("cannot serialize " + o.getClass().getName());
    }
  }

  @Override
  public Object fromBinary(byte[] bytes, String manifest) {
    ByteBuffer b = ByteBuffer.wrap(bytes);
    Object decoded = fromBinary(b, manifest);
    if (b.hasRemaining()) {
      throw new IllegalArgumentException(b.remaining() + " trailing bytes after " + manifest);
    }
    return decoded;
  }

  /** Read from Artery's frame buffer, payloads copied once, straight into their messages. */
  @Override
  public Object fromBinary(ByteBuffer b, String manifest) {
    return switch (manifest) {
      case PROPOSE -> {
        ActorRef<ReplicaShell.ProposeReply> replyTo = readRef(b);
        yield new ReplicaShell.Propose(readProposal(b), replyTo);
      }
      case PROPOSE_ALL -> {
        ActorRef<ReplicaShell.Replies> repliesVia = b.get() == 0 ? null : readRef(b);
        List<ActorRef<ReplicaShell.ProposeReply>> table = new ArrayList<>();
        for (int i = b.getInt(); i > 0; i--) {
          table.add(readRef(b));
        }
        int count = b.getInt();
        List<ReplicaShell.Propose> proposals = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          int ref = b.getInt();
          ActorRef<ReplicaShell.ProposeReply> replyTo = ref < 0 ? null : table.get(ref);
          long ticket = b.getLong();
          proposals.add(new ReplicaShell.Propose(readProposal(b), replyTo, ticket));
        }
        yield new ReplicaShell.ProposeAll(proposals, repliesVia);
      }
      case REPLY -> readReply(b);
      case REPLIES -> {
        int count = b.getInt();
        List<ReplicaShell.Routed> replies = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          long ticket = b.getLong();
          replies.add(new ReplicaShell.Routed(ticket, readReply(b)));
        }
        yield new ReplicaShell.Replies(replies);
      }
      default -> throw new IllegalArgumentException("unknown manifest '" + manifest + "'");
    };
  }

  // ---- proposals ----

  private static void proposal(StreamCommand.Writer w, Wire.Proposal p) {
    if (p instanceof Wire.Publish pub) {
      w.ensure(1);
      w.b.put(PUBLISH);
      // A publish is a message without its leader's time stamp yet: the same layout, time 0.
      StreamCommand.writeMessage(w, new io.holdfast.stream.Message(pub.subject(), pub.headers(), pub.payload(), 0));
    } else if (p instanceof Wire.Consume c) {
      w.ensure(1);
      w.b.put(CONSUME);
      w.string(c.consumer());
      w.string(c.kind());
      w.ensure(8 + 4 + 8);
      w.b.putLong(c.seq()).putInt(c.max()).putLong(c.delayMillis());
    } else if (p instanceof Wire.PublishAtomic a) {
      w.ensure(5);
      w.b.put(PUBLISH_ATOMIC).putInt(a.messages().size());
      for (Wire.Publish pub : a.messages()) {
        StreamCommand.writeMessage(w, new io.holdfast.stream.Message(pub.subject(), pub.headers(), pub.payload(), 0));
      }
    } else if (p instanceof Wire.StreamOp op) {
      w.ensure(1);
      w.b.put(STREAM_OP);
      bytes(w, op.command());
    } else if (p instanceof Wire.MetaChange m) {
      w.ensure(1);
      w.b.put(META_CHANGE);
      bytes(w, m.command());
    } else {
      throw new IllegalArgumentException("cannot serialize proposal " + p.getClass().getName());
    }
  }

  private static Wire.Proposal readProposal(ByteBuffer b) {
    byte type = b.get();
    return switch (type) {
      case PUBLISH -> {
        io.holdfast.stream.Message m = StreamCommand.readMessage(b);
        yield new Wire.Publish(m.subject(), m.headers(), m.payload());
      }
      case CONSUME -> new Wire.Consume(StreamCommand.readString(b), StreamCommand.readString(b), b.getLong(),
          b.getInt(), b.getLong());
      case STREAM_OP -> new Wire.StreamOp(readBytes(b));
      case PUBLISH_ATOMIC -> {
        int count = b.getInt();
        List<Wire.Publish> messages = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          io.holdfast.stream.Message m = StreamCommand.readMessage(b);
          messages.add(new Wire.Publish(m.subject(), m.headers(), m.payload()));
        }
        yield new Wire.PublishAtomic(messages);
      }
      case META_CHANGE -> new Wire.MetaChange(readBytes(b));
      default -> throw new IllegalArgumentException("unknown proposal type " + type);
    };
  }

  // ---- replies ----

  private void reply(StreamCommand.Writer w, ReplicaShell.ProposeReply r) {
    w.ensure(1);
    if (r instanceof ReplicaShell.Applied a) {
      w.b.put(APPLIED);
      leaderRef(w, a.leader());
      outcome(w, a.outcome());
    } else if (r instanceof ReplicaShell.Refused f) {
      w.b.put(REFUSED);
      w.string(f.reason().name());
      w.ensure(4);
      w.b.putInt(f.leaderHint());
    } else if (r instanceof ReplicaShell.Superseded s) {
      w.b.put(SUPERSEDED);
      w.ensure(8);
      w.b.putLong(s.index());
    } else if (r instanceof ReplicaShell.Invalid i) {
      w.b.put(INVALID);
      text(w, i.reason());
    } else {
      throw new IllegalArgumentException("cannot serialize reply " + r.getClass().getName());
    }
  }

  private ReplicaShell.ProposeReply readReply(ByteBuffer b) {
    byte type = b.get();
    return switch (type) {
      case APPLIED -> {
        ActorRef<ReplicaShell.Command> leader = readRef(b);
        yield new ReplicaShell.Applied(readOutcome(b), leader);
      }
      case REFUSED -> new ReplicaShell.Refused(ProposeResult.Reason.valueOf(StreamCommand.readString(b)), b.getInt());
      case SUPERSEDED -> new ReplicaShell.Superseded(b.getLong());
      case INVALID -> new ReplicaShell.Invalid(readText(b));
      default -> throw new IllegalArgumentException("unknown reply type " + type);
    };
  }

  private static void outcome(StreamCommand.Writer w, Wire.Outcome o) {
    w.ensure(1);
    if (o instanceof Wire.Seq s) {
      w.b.put(SEQ);
      w.string(s.stream());
      w.ensure(9);
      w.b.putLong(s.seq()).put((byte) (s.duplicate() ? 1 : 0));
    } else if (o instanceof Wire.Rejected r) {
      w.b.put(REJECTED);
      text(w, r.code());
      text(w, r.message());
    } else if (o instanceof Wire.MetaOutcome m) {
      w.b.put(META_OUTCOME);
      text(w, m.code());
      text(w, m.message());
    } else if (o instanceof Wire.Delivered d) {
      w.b.put(DELIVERED);
      w.ensure(4);
      w.b.putInt(d.deliveries().size());
      for (Delivery x : d.deliveries()) {
        w.string(x.consumer());
        w.ensure(8);
        w.b.putLong(x.message().seq());
        StreamCommand.writeMessage(w, x.message().message());
        w.ensure(8 + 4 + 8);
        w.b.putLong(x.consumerSeq()).putInt(x.deliveries()).putLong(x.pending());
      }
    } else {
      throw new IllegalArgumentException("cannot serialize outcome " + o.getClass().getName());
    }
  }

  private static Wire.Outcome readOutcome(ByteBuffer b) {
    byte type = b.get();
    return switch (type) {
      case SEQ -> new Wire.Seq(StreamCommand.readString(b), b.getLong(), b.get() != 0);
      case REJECTED -> new Wire.Rejected(readText(b), readText(b));
      case META_OUTCOME -> new Wire.MetaOutcome(readText(b), readText(b));
      case DELIVERED -> {
        int count = b.getInt();
        List<Delivery> deliveries = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          String consumer = StreamCommand.readString(b);
          long seq = b.getLong();
          io.holdfast.stream.Message m = StreamCommand.readMessage(b);
          deliveries.add(new Delivery(consumer, new StoredMessage(seq, m), b.getLong(), b.getInt(), b.getLong()));
        }
        yield new Wire.Delivered(deliveries);
      }
      default -> throw new IllegalArgumentException("unknown outcome type " + type);
    };
  }

  // ---- pieces ----

  private void ref(StreamCommand.Writer w, ActorRef<?> ref) {
    w.string(resolver().toSerializationFormat(ref));
  }

  /** A leader's ref, the same in every reply it sends: its text is kept (a few per node). */
  private void leaderRef(StreamCommand.Writer w, ActorRef<?> ref) {
    w.string(cached(formats, ref, r -> resolver().toSerializationFormat(r)));
  }

  /**
   * A ref as sent. Refs that are not temporary (leaders, hosts, the ignoring sink of unconfirmed
   * acks) are resolved once and kept: parsing a ref's URI for every reply showed in the profile
   * of a node serving NATS clients for a leader elsewhere. Asks' temporary refs are used once.
   */
  @SuppressWarnings("unchecked")
  private <T> ActorRef<T> readRef(ByteBuffer b) {
    String text = StreamCommand.readString(b);
    if (text.contains("/temp/")) {
      return resolver().resolveActorRef(text);
    }
    return (ActorRef<T>) cached(resolved, text, t -> resolver().resolveActorRef(t));
  }

  private static final int CACHE_MAX = 4096;
  private final ConcurrentHashMap<String, ActorRef<?>> resolved = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<ActorRef<?>, String> formats = new ConcurrentHashMap<>();

  /** {@code cache}'s value for {@code key}, computed once; the cache starts over when it reaches its bound. */
  private static <K, V> V cached(ConcurrentHashMap<K, V> cache, K key, java.util.function.Function<K, V> compute) {
    V v = cache.get(key);
    if (v == null) {
      if (cache.size() >= CACHE_MAX) {
        cache.clear();
      }
      v = compute.apply(key);
      cache.put(key, v);
    }
    return v;
  }

  private static void bytes(StreamCommand.Writer w, byte[] bytes) {
    w.ensure(4 + bytes.length);
    w.b.putInt(bytes.length).put(bytes);
  }

  private static byte[] readBytes(ByteBuffer b) {
    byte[] bytes = new byte[b.getInt()];
    b.get(bytes);
    return bytes;
  }

  /** A string of any length, or null (length -1). */
  private static void text(StreamCommand.Writer w, String s) {
    if (s == null) {
      w.ensure(4);
      w.b.putInt(-1);
      return;
    }
    bytes(w, s.getBytes(StandardCharsets.UTF_8));
  }

  private static String readText(ByteBuffer b) {
    int length = b.getInt();
    if (length < 0) {
      return null;
    }
    byte[] s = new byte[length];
    b.get(s);
    return new String(s, StandardCharsets.UTF_8);
  }
}

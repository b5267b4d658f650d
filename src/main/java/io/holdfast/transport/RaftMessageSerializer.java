package io.holdfast.transport;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.serialization.ByteBufferSerializer;
import org.apache.pekko.serialization.SerializerWithStringManifest;

/**
 * Pekko serializer for {@link PeerEnvelope} and {@link StoreEnvelope} (bound in reference.conf),
 * with {@link RaftCodec}'s and {@link StoreCodec}'s binary layouts. Replicas on different nodes
 * exchange nothing else. As a
 * {@link ByteBufferSerializer}, Artery has it write into and read from its own envelope buffers,
 * without a byte[] in between (the profile of `bench pub` showed these copies).
 */
public final class RaftMessageSerializer extends SerializerWithStringManifest implements ByteBufferSerializer {
  private static final String ENVELOPE = "E1";
  private static final String STORE = "S1";
  /** A {@link ReplicaHost.PeerBatch}: count, then per envelope its kind (0 Raft, 1 store), length and bytes. */
  private static final String BATCH = "B1";

  public RaftMessageSerializer(ExtendedActorSystem system) {
    // stateless; Pekko constructs serializers with the system
  }

  @Override
  public int identifier() {
    return 48_151_623; // unique among this system's serializers; never change once data is on the wire
  }

  @Override
  public String manifest(Object o) {
    if (o instanceof PeerEnvelope) {
      return ENVELOPE;
    }
    if (o instanceof StoreEnvelope) {
      return STORE;
    }
    if (o instanceof ReplicaHost.PeerBatch) {
      return BATCH;
    }
    throw new IllegalArgumentException("cannot serialize " + o.getClass().getName());
  }

  @Override
  public byte[] toBinary(Object o) {
    if (o instanceof PeerEnvelope e) {
      return RaftCodec.encode(e);
    }
    if (o instanceof StoreEnvelope e) {
      return StoreCodec.encode(e);
    }
    if (o instanceof ReplicaHost.PeerBatch b) {
      int bytes = 4;
      for (ReplicaHost.Command e : b.envelopes()) {
        bytes += 5 + ReplicaHost.encodedBytes(e);
      }
      ByteBuffer buf = ByteBuffer.allocate(bytes);
      encodeBatch(b, buf);
      return buf.array();
    }
    throw new IllegalArgumentException("cannot serialize " + o.getClass().getName());
  }

  @Override
  public void toBinary(Object o, ByteBuffer buf) {
    if (o instanceof PeerEnvelope e) {
      RaftCodec.encode(e, buf);
      return;
    }
    if (o instanceof StoreEnvelope e) {
      StoreCodec.encode(e, buf);
      return;
    }
    if (o instanceof ReplicaHost.PeerBatch b) {
      encodeBatch(b, buf);
      return;
    }
    throw new IllegalArgumentException("cannot serialize " + o.getClass().getName());
  }

  private static void encodeBatch(ReplicaHost.PeerBatch batch, ByteBuffer buf) {
    buf.putInt(batch.envelopes().size());
    for (ReplicaHost.Command e : batch.envelopes()) {
      buf.put(e instanceof PeerEnvelope ? (byte) 0 : (byte) 1);
      int lengthAt = buf.position();
      buf.putInt(0);
      if (e instanceof PeerEnvelope p) {
        RaftCodec.encode(p, buf);
      } else {
        StoreCodec.encode((StoreEnvelope) e, buf);
      }
      buf.putInt(lengthAt, buf.position() - lengthAt - 4);
    }
  }

  private static ReplicaHost.PeerBatch decodeBatch(ByteBuffer buf) {
    int count = buf.getInt();
    if (count < 0 || count > buf.remaining() / 5) {
      throw new IllegalArgumentException("a batch of " + count + " envelopes in " + buf.remaining() + " bytes");
    }
    List<ReplicaHost.Command> envelopes = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      byte kind = buf.get();
      int length = buf.getInt();
      ByteBuffer one = buf.slice(buf.position(), length).order(buf.order()); // a slice starts big-endian; Artery's buffers are not
      buf.position(buf.position() + length);
      envelopes.add(switch (kind) {
        case 0 -> RaftCodec.decode(one);
        case 1 -> StoreCodec.decode(one);
        default -> throw new IllegalArgumentException("unknown envelope kind " + kind + " in a batch");
      });
    }
    if (buf.hasRemaining()) {
      throw new IllegalArgumentException(buf.remaining() + " trailing bytes after a batch");
    }
    return new ReplicaHost.PeerBatch(envelopes);
  }

  @Override
  public Object fromBinary(ByteBuffer buf, String manifest) {
    if (ENVELOPE.equals(manifest)) {
      return RaftCodec.decode(buf);
    }
    if (STORE.equals(manifest)) {
      return StoreCodec.decode(buf);
    }
    if (BATCH.equals(manifest)) {
      return decodeBatch(buf);
    }
    throw new IllegalArgumentException("unknown manifest '" + manifest + "'");
  }

  @Override
  public Object fromBinary(byte[] bytes, String manifest) {
    if (ENVELOPE.equals(manifest)) {
      return RaftCodec.decode(bytes);
    }
    if (STORE.equals(manifest)) {
      return StoreCodec.decode(ByteBuffer.wrap(bytes));
    }
    if (BATCH.equals(manifest)) {
      return decodeBatch(ByteBuffer.wrap(bytes));
    }
    throw new IllegalArgumentException("unknown manifest '" + manifest + "'");
  }
}

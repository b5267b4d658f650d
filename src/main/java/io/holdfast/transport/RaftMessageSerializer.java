package io.holdfast.transport;

import java.nio.ByteBuffer;
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
    throw new IllegalArgumentException("cannot serialize " + o.getClass().getName());
  }

  @Override
  public Object fromBinary(ByteBuffer buf, String manifest) {
    if (ENVELOPE.equals(manifest)) {
      return RaftCodec.decode(buf);
    }
    if (STORE.equals(manifest)) {
      return StoreCodec.decode(buf);
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
    throw new IllegalArgumentException("unknown manifest '" + manifest + "'");
  }
}

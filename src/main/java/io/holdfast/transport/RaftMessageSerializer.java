package io.holdfast.transport;

import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.serialization.SerializerWithStringManifest;

/**
 * Pekko serializer for {@link PeerEnvelope} (bound in reference.conf), with {@link RaftCodec}'s
 * binary layout. Replicas on different nodes exchange nothing else.
 */
public final class RaftMessageSerializer extends SerializerWithStringManifest {
  private static final String ENVELOPE = "E1";

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
    throw new IllegalArgumentException("cannot serialize " + o.getClass().getName());
  }

  @Override
  public byte[] toBinary(Object o) {
    if (o instanceof PeerEnvelope e) {
      return RaftCodec.encode(e);
    }
    throw new IllegalArgumentException("cannot serialize " + o.getClass().getName());
  }

  @Override
  public Object fromBinary(byte[] bytes, String manifest) {
    if (ENVELOPE.equals(manifest)) {
      return RaftCodec.decode(bytes);
    }
    throw new IllegalArgumentException("unknown manifest '" + manifest + "'");
  }
}

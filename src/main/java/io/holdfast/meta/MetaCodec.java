package io.holdfast.meta;

import io.holdfast.stream.StreamCommand;
import io.holdfast.stream.StreamLimits;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/** The bytes of meta commands in the meta group's log: u8 type, then the fields. */
public final class MetaCodec {
  private MetaCodec() {}

  private static final byte REGISTER = 1;
  private static final byte CREATE = 2;
  private static final byte UPDATE = 3;
  private static final byte DELETE = 4;
  private static final byte DRAIN = 5;
  private static final byte VOTERS = 6;

  public static byte[] encode(MetaState.Command c) {
    StreamCommand.Writer w = new StreamCommand.Writer();
    if (c instanceof MetaState.RegisterNode r) {
      w.b.put(REGISTER).putInt(r.id());
      w.string(r.incarnation());
      w.string(r.http());
      w.ensure(1);
      w.b.put((byte) (r.rejoin() ? 1 : 0));
    } else if (c instanceof MetaState.CreateStream cs) {
      w.b.put(CREATE);
      w.string(cs.name());
      writeStrings(w, cs.subjects());
      writeLimits(w, cs.replicas(), cs.limits());
    } else if (c instanceof MetaState.UpdateStream us) {
      w.b.put(UPDATE);
      w.string(us.name());
      writeStrings(w, us.subjects());
      writeLimits(w, us.replicas(), us.limits());
    } else if (c instanceof MetaState.SetDraining d) {
      w.b.put(DRAIN).putInt(d.node()).put((byte) (d.draining() ? 1 : 0));
    } else if (c instanceof MetaState.SetMetaVoters v) {
      w.ensure(9 + 4 * (v.from().size() + v.to().size()));
      w.b.put(VOTERS);
      writeInts(w, v.from());
      writeInts(w, v.to());
    } else {
      w.b.put(DELETE);
      w.string(((MetaState.DeleteStream) c).name());
    }
    return w.bytes();
  }

  public static MetaState.Command decodeCommand(byte[] bytes) {
    ByteBuffer b = ByteBuffer.wrap(bytes);
    byte type = b.get();
    return switch (type) {
      case REGISTER -> new MetaState.RegisterNode(b.getInt(), StreamCommand.readString(b), StreamCommand.readString(b),
          b.get() == 1);
      case CREATE -> new MetaState.CreateStream(StreamCommand.readString(b), readStrings(b), b.getInt(), readLimits(b));
      case UPDATE -> new MetaState.UpdateStream(StreamCommand.readString(b), readStrings(b), b.getInt(), readLimits(b));
      case DELETE -> new MetaState.DeleteStream(StreamCommand.readString(b));
      case DRAIN -> new MetaState.SetDraining(b.getInt(), b.get() == 1);
      case VOTERS -> new MetaState.SetMetaVoters(readInts(b), readInts(b));
      default -> throw new IllegalArgumentException("unknown meta command type " + type);
    };
  }

  private static void writeInts(StreamCommand.Writer w, List<Integer> ints) {
    w.b.putInt(ints.size());
    ints.forEach(w.b::putInt);
  }

  private static List<Integer> readInts(ByteBuffer b) {
    List<Integer> out = new ArrayList<>();
    for (int n = b.getInt(); n > 0; n--) {
      out.add(b.getInt());
    }
    return out;
  }

  private static void writeLimits(StreamCommand.Writer w, int replicas, StreamLimits limits) {
    byte[] l = limits.encode();
    w.ensure(8 + l.length);
    w.b.putInt(replicas).putInt(l.length).put(l);
  }

  private static StreamLimits readLimits(ByteBuffer b) {
    byte[] l = new byte[b.getInt()];
    b.get(l);
    return StreamLimits.decode(l);
  }

  static void writeStrings(StreamCommand.Writer w, List<String> strings) {
    w.ensure(4);
    w.b.putInt(strings.size());
    strings.forEach(w::string);
  }

  static List<String> readStrings(ByteBuffer b) {
    int n = b.getInt();
    List<String> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(StreamCommand.readString(b));
    }
    return out;
  }
}

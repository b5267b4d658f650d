package io.holdfast.persistence;

import io.holdfast.api.Records;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.PersistentRepr$;
import org.apache.pekko.persistence.journal.Tagged;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;

/**
 * How the plugins store a Pekko object in a message: the payload is the object serialized by Pekko
 * serialization (its own serializer, as configured for the application); what Pekko needs to read
 * it back travels in headers, so that any Holdfast or NATS client can read the streams too:
 * {@value #SERIALIZER} (the serializer's id), {@value #SER_MANIFEST} (its manifest, if any),
 * {@value #SEQ_NR}, {@value #WRITER}, {@value #MANIFEST} (an event adapter's manifest, if any),
 * {@value #TIMESTAMP} (if set), and one {@value #TAG} value per tag.
 */
final class EventCodec {
  static final String SEQ_NR = "Pekko-Sequence-Nr";
  static final String WRITER = "Pekko-Writer-Uuid";
  static final String MANIFEST = "Pekko-Event-Manifest";
  static final String SERIALIZER = "Pekko-Serializer-Id";
  static final String SER_MANIFEST = "Pekko-Serializer-Manifest";
  static final String TIMESTAMP = "Pekko-Timestamp";
  static final String TAG = "Pekko-Tag";
  static final String DELETED_TO = "Pekko-Deleted-To";

  private final Serialization serialization;

  EventCodec(ActorSystem system) {
    this.serialization = SerializationExtension.get(system);
  }

  /** Headers and payload of {@code object}; throws if it cannot be serialized. */
  Records.Outgoing encode(String subject, Object object, TreeMap<String, List<String>> headers) throws Exception {
    Serializer serializer = serialization.findSerializerFor(object);
    byte[] bytes = serialization.serialize(object).get(); // sets the transport information ActorRefs need
    headers.put(SERIALIZER, List.of(Integer.toString(serializer.identifier())));
    put(headers, SER_MANIFEST, Serializers.manifestFor(serializer, object));
    return new Records.Outgoing(subject, headers, bytes);
  }

  Object decode(Records.StreamMessage m) {
    return serialization.deserialize(m.payload(), Integer.parseInt(header(m, SERIALIZER, "0")),
        header(m, SER_MANIFEST, "")).get();
  }

  /** An event: a Tagged payload is stored without its wrapper, its tags as headers. */
  Records.Outgoing encode(String subject, PersistentRepr r) throws Exception {
    TreeMap<String, List<String>> headers = new TreeMap<>();
    Object payload = r.payload();
    if (payload instanceof Tagged t) {
      List<String> tags = new ArrayList<>();
      t.tags().foreach(tags::add);
      tags.sort(null);
      if (!tags.isEmpty()) {
        headers.put(TAG, tags);
      }
      payload = t.payload();
    }
    headers.put(SEQ_NR, List.of(Long.toString(r.sequenceNr())));
    put(headers, WRITER, r.writerUuid());
    put(headers, MANIFEST, r.manifest());
    if (r.timestamp() != 0) {
      headers.put(TIMESTAMP, List.of(Long.toString(r.timestamp())));
    }
    return encode(subject, payload, headers);
  }

  PersistentRepr decode(String persistenceId, Records.StreamMessage m) {
    return PersistentRepr$.MODULE$.apply(decode(m), sequenceNr(m), persistenceId, header(m, MANIFEST, ""), false,
        ActorRef.noSender(), header(m, WRITER, "")).withTimestamp(Long.parseLong(header(m, TIMESTAMP, "0")));
  }

  static List<String> tags(Records.StreamMessage m) {
    List<String> v = m.headers().get(TAG);
    return v == null ? List.of() : v;
  }

  static long sequenceNr(Records.StreamMessage m) {
    return Long.parseLong(header(m, SEQ_NR, "0"));
  }

  static TreeMap<String, List<String>> deletion(long toSequenceNr) {
    TreeMap<String, List<String>> h = new TreeMap<>();
    h.put(DELETED_TO, List.of(Long.toString(toSequenceNr)));
    return h;
  }

  static long deletedTo(Records.StreamMessage m) {
    return Long.parseLong(header(m, DELETED_TO, "0"));
  }

  static String header(Records.StreamMessage m, String name, String absent) {
    List<String> v = m.headers().get(name);
    return v == null || v.isEmpty() ? absent : v.get(0);
  }

  static void put(TreeMap<String, List<String>> headers, String name, String value) {
    if (value != null && !value.isEmpty()) {
      headers.put(name, List.of(value));
    }
  }
}

package io.holdfast.nats;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The client-to-server half of the NATS protocol, incrementally: bytes in as they arrive (split
 * anywhere), operations out. Pure: no I/O, no threads; one parser per connection, fed from one
 * thread at a time.
 *
 * <p>Limits and errors follow nats-server's parser: a control line longer than {@code
 * maxControlLine} bytes ends the connection with {@code -ERR 'maximum control line exceeded'}; a
 * payload over {@code maxPayload} with {@code -ERR 'Maximum Payload Violation'}; a body not
 * followed by CRLF exactly at its announced length, an unknown verb or malformed arguments with
 * {@code -ERR 'Unknown Protocol Operation'}. Those are {@link Fatal}: the parser takes nothing
 * more. A subscription to an invalid subject is {@link Invalid}: answered, the connection stays.
 */
public final class NatsParser {
  /** A parsed client operation. */
  public sealed interface Op {}

  public record Connect(String json) implements Op {}

  public enum Ping implements Op { INSTANCE }

  public enum Pong implements Op { INSTANCE }

  /** PUB or HPUB: {@code headers} is the raw header block ({@code NATS/1.0...CRLF CRLF}) or null for PUB. */
  public record Pub(String subject, String reply, byte[] headers, byte[] payload) implements Op {}

  public record Sub(String subject, String queue, String sid) implements Op {}

  /** {@code max}: unsubscribe after this many deliveries in all; 0: now. */
  public record Unsub(String sid, long max) implements Op {}

  /** Answered with {@code -ERR '<text>'}; the connection stays. */
  public record Invalid(String text) implements Op {}

  /** Answered with {@code -ERR '<text>'}, then the connection is closed. */
  public record Fatal(String text) implements Op {}

  public static final String UNKNOWN = "Unknown Protocol Operation";
  public static final String CONTROL_LINE = "maximum control line exceeded";
  public static final String MAX_PAYLOAD = "Maximum Payload Violation";

  private final int maxControlLine;
  private final int maxPayload;
  private byte[] buf = new byte[4096];
  private int start;
  private int end;
  /** The PUB/HPUB whose body is awaited, or null while reading a control line. */
  private PendingBody body;
  private boolean dead;

  private record PendingBody(String subject, String reply, int headerBytes, int totalBytes) {}

  public NatsParser(int maxControlLine, int maxPayload) {
    this.maxControlLine = maxControlLine;
    this.maxPayload = maxPayload;
  }

  /** The operations {@code data[off, off+len)} completes, in order; after a {@link Fatal}, nothing more. */
  public List<Op> feed(byte[] data, int off, int len) {
    List<Op> out = new ArrayList<>();
    if (dead) {
      return out;
    }
    append(data, off, len);
    while (!dead) {
      Op op = body != null ? readBody() : readControlLine();
      if (op == null) {
        break;
      }
      out.add(op);
      if (op instanceof Fatal) {
        dead = true;
      }
    }
    compact();
    return out;
  }

  public List<Op> feed(byte[] data) {
    return feed(data, 0, data.length);
  }

  private void append(byte[] data, int off, int len) {
    if (end + len > buf.length) {
      int live = end - start;
      byte[] grown = live + len > buf.length ? new byte[Math.max(buf.length * 2, live + len)] : buf;
      System.arraycopy(buf, start, grown, 0, live);
      buf = grown;
      start = 0;
      end = live;
    }
    System.arraycopy(data, off, buf, end, len);
    end += len;
  }

  /** Drops a large buffer once it is empty again, so one big message does not pin its size per connection. */
  private void compact() {
    if (start == end) {
      start = 0;
      end = 0;
      if (buf.length > 64 << 10) {
        buf = new byte[4096];
      }
    }
  }

  private Op readControlLine() {
    int lf = -1;
    for (int i = start; i < end; i++) {
      if (buf[i] == '\n') {
        lf = i;
        break;
      }
    }
    if (lf < 0) {
      return end - start > maxControlLine ? new Fatal(CONTROL_LINE) : null;
    }
    int lineEnd = lf > start && buf[lf - 1] == '\r' ? lf - 1 : lf;
    if (lineEnd - start > maxControlLine) {
      return new Fatal(CONTROL_LINE);
    }
    int from = start;
    start = lf + 1;
    Op pub = pubFromBytes(from, lineEnd);
    return pub != null ? pub : control(new String(buf, from, lineEnd - from, StandardCharsets.UTF_8));
  }

  /**
   * The common case read from the bytes: a PUB or HPUB line of printable ASCII (tabs allowed), as
   * every client sends them. Null for anything else, which {@link #control} reads from a string
   * with the same result; this only spares every message the line's string, its verb's and
   * arguments' copies, and the upper-casing (a tenth of a busy node's CPU samples).
   */
  private Op pubFromBytes(int from, int to) {
    int[] spans = new int[10]; // begin and end of the verb and of up to four arguments
    int n = 0;
    int i = from;
    while (i < to) {
      byte c = buf[i];
      if (c < 0x20 && c != '\t') {
        return null; // a control character or non-ASCII (bytes are signed): the string path decides
      }
      if (c == ' ' || c == '\t') {
        i++;
        continue;
      }
      if (n == spans.length) {
        return null; // too many arguments for a PUB: the string path says so
      }
      spans[n++] = i;
      while (i < to && buf[i] != ' ' && buf[i] != '\t') {
        if (buf[i] < 0x20) {
          return null;
        }
        i++;
      }
      spans[n++] = i;
    }
    boolean headers;
    if (isVerb(spans, n, "PUB")) {
      headers = false;
    } else if (isVerb(spans, n, "HPUB")) {
      headers = true;
    } else {
      return null;
    }
    String[] args = new String[n / 2 - 1];
    for (int a = 0; a < args.length; a++) {
      int b = spans[2 * a + 2];
      args[a] = new String(buf, b, spans[2 * a + 3] - b, StandardCharsets.US_ASCII);
    }
    return pub(args, headers);
  }

  private boolean isVerb(int[] spans, int n, String verb) {
    if (n < 2 || spans[1] - spans[0] != verb.length()) {
      return false;
    }
    for (int k = 0; k < verb.length(); k++) {
      if (Character.toUpperCase((char) buf[spans[0] + k]) != verb.charAt(k)) {
        return false;
      }
    }
    return true;
  }

  private Op control(String line) {
    String trimmed = line.stripLeading();
    int space = firstBlank(trimmed);
    String verb = (space < 0 ? trimmed : trimmed.substring(0, space)).toUpperCase(Locale.ROOT);
    String rest = space < 0 ? "" : trimmed.substring(space).strip();
    if (verb.startsWith("PING")) {
      return Ping.INSTANCE;
    }
    if (verb.startsWith("PONG")) {
      return Pong.INSTANCE;
    }
    if (verb.startsWith("CONNECT")) {
      return new Connect(trimmed.length() > 7 ? trimmed.substring(7).strip() : "{}");
    }
    String[] args = arguments(rest);
    switch (verb) {
      case "PUB":
        return pub(args, false);
      case "HPUB":
        return pub(args, true);
      case "SUB":
        if (args.length != 2 && args.length != 3) {
          return new Fatal(UNKNOWN);
        }
        String subject = args[0];
        if (io.holdfast.stream.Subjects.invalidFilter(subject) != null) {
          return new Invalid("Invalid Subject");
        }
        return new Sub(subject, args.length == 3 ? args[1] : null, args[args.length - 1]);
      case "UNSUB":
        if (args.length != 1 && args.length != 2) {
          return new Fatal(UNKNOWN);
        }
        long max = args.length == 2 ? number(args[1]) : 0;
        return max < 0 ? new Fatal(UNKNOWN) : new Unsub(args[0], max);
      case "+OK":
      case "-ERR":
        return skip();
      default:
        return new Fatal(UNKNOWN);
    }
  }

  /** A client has no reason to send +OK or -ERR; nats-server ignores them, so does this. */
  private Op skip() {
    return body != null ? readBody() : readControlLine();
  }

  private Op pub(String[] args, boolean headers) {
    int counts = headers ? 2 : 1;
    if (args.length != counts + 1 && args.length != counts + 2) {
      return new Fatal(UNKNOWN);
    }
    String subject = args[0];
    String reply = args.length == counts + 2 ? args[1] : null;
    long headerBytes = headers ? number(args[args.length - 2]) : 0;
    long total = number(args[args.length - 1]);
    // An HPUB may announce 0 header bytes (nats.js sends its JetStream publishes so): no headers.
    if (headerBytes < 0 || total < 0 || headerBytes > total || (headers && headerBytes > 0 && headerBytes < 10)) {
      return new Fatal(UNKNOWN);
    }
    if (total > maxPayload) {
      return new Fatal(MAX_PAYLOAD);
    }
    body = new PendingBody(subject, reply, (int) headerBytes, (int) total);
    return readBody();
  }

  private Op readBody() {
    PendingBody b = body;
    if (end - start < b.totalBytes() + 2) {
      return null;
    }
    if (buf[start + b.totalBytes()] != '\r' || buf[start + b.totalBytes() + 1] != '\n') {
      return new Fatal(UNKNOWN);
    }
    byte[] headers = null;
    if (b.headerBytes() > 0) {
      headers = new byte[b.headerBytes()];
      System.arraycopy(buf, start, headers, 0, headers.length);
    }
    byte[] payload = new byte[b.totalBytes() - b.headerBytes()];
    System.arraycopy(buf, start + b.headerBytes(), payload, 0, payload.length);
    start += b.totalBytes() + 2;
    body = null;
    return new Pub(b.subject(), b.reply(), headers, payload);
  }


  /** The space- or tab-separated arguments of a control line (by hand: a regex split per message showed in profiles). */
  static String[] arguments(String rest) {
    List<String> args = new ArrayList<>(4);
    int i = 0;
    while (i < rest.length()) {
      while (i < rest.length() && (rest.charAt(i) == ' ' || rest.charAt(i) == '\t')) {
        i++;
      }
      int start = i;
      while (i < rest.length() && rest.charAt(i) != ' ' && rest.charAt(i) != '\t') {
        i++;
      }
      if (i > start) {
        args.add(rest.substring(start, i));
      }
    }
    return args.toArray(new String[0]);
  }
  private static int firstBlank(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) == ' ' || s.charAt(i) == '\t') {
        return i;
      }
    }
    return -1;
  }

  /** A non-negative decimal, or -1. */
  private static long number(String s) {
    return number(s, 0, s.length());
  }

  /** The non-negative decimal {@code s} holds from {@code from} to {@code to}; -1 if it is none (or over 18 digits). */
  static long number(String s, int from, int to) {
    if (to <= from || to - from > 18) {
      return -1;
    }
    long n = 0;
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      n = n * 10 + (c - '0');
    }
    return n;
  }
}

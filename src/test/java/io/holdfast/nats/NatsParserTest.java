package io.holdfast.nats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Goal: the parser turns a client's byte stream into the same operations however the stream is
 * split into reads, and answers malformed input as nats-server does (the texts clients see).
 * Method: fixed transcripts, fed whole and split at every byte; golden header blocks.
 */
class NatsParserTest {
  private static final int MAX_PAYLOAD = 1 << 20;

  private static List<NatsParser.Op> parse(String input) {
    return new NatsParser(4096, MAX_PAYLOAD).feed(input.getBytes(StandardCharsets.UTF_8));
  }

  /** The same input fed one byte at a time: the same operations. */
  private static List<NatsParser.Op> parseByteByByte(String input) {
    NatsParser p = new NatsParser(4096, MAX_PAYLOAD);
    List<NatsParser.Op> out = new ArrayList<>();
    for (byte b : input.getBytes(StandardCharsets.UTF_8)) {
      out.addAll(p.feed(new byte[] {b}));
    }
    return out;
  }

  private static String describe(List<NatsParser.Op> ops) {
    StringBuilder b = new StringBuilder();
    for (NatsParser.Op op : ops) {
      if (op instanceof NatsParser.Pub p) {
        b.append("Pub[").append(p.subject()).append(',').append(p.reply()).append(',')
            .append(p.headers() == null ? null : new String(p.headers(), StandardCharsets.UTF_8)).append(',')
            .append(new String(p.payload(), StandardCharsets.UTF_8)).append("]");
      } else {
        b.append(op);
      }
      b.append('\n');
    }
    return b.toString();
  }

  @Test
  void aConnectAndAHeaderPublishInOneReadAreTwoOperationsHoweverSplit() {
    String headers = "NATS/1.0\r\nNats-Msg-Id: a1\r\n\r\n";
    String input = "CONNECT {\"headers\":true,\"verbose\":false}\r\n"
        + "HPUB orders.new _INBOX.x.1 " + headers.length() + " " + (headers.length() + 5) + "\r\n" + headers
        + "hello\r\nPING\r\nsub orders.* q1 7\r\nUNSUB 7 10\r\nPUB a.b 0\r\n\r\n";
    List<NatsParser.Op> whole = parse(input);
    assertEquals(6, whole.size(), describe(whole));
    assertEquals(new NatsParser.Connect("{\"headers\":true,\"verbose\":false}"), whole.get(0));
    NatsParser.Pub hpub = (NatsParser.Pub) whole.get(1);
    assertEquals("orders.new", hpub.subject());
    assertEquals("_INBOX.x.1", hpub.reply());
    assertArrayEquals(headers.getBytes(StandardCharsets.UTF_8), hpub.headers());
    assertArrayEquals("hello".getBytes(StandardCharsets.UTF_8), hpub.payload());
    assertEquals(NatsParser.Ping.INSTANCE, whole.get(2));
    assertEquals(new NatsParser.Sub("orders.*", "q1", "7"), whole.get(3), "verbs are case-insensitive");
    assertEquals(new NatsParser.Unsub("7", 10), whole.get(4));
    NatsParser.Pub empty = (NatsParser.Pub) whole.get(5);
    assertEquals(0, empty.payload().length);
    assertNull(empty.headers());
    assertEquals(describe(whole), describe(parseByteByByte(input)));
  }

  @Test
  void aPayloadIsTakenByItsLengthNotByLineBreaksInsideIt() {
    List<NatsParser.Op> ops = parse("PUB a 7\r\nx\r\nPING\r\nPONG\r\n");
    assertEquals(2, ops.size(), describe(ops));
    assertArrayEquals("x\r\nPING".getBytes(StandardCharsets.UTF_8), ((NatsParser.Pub) ops.get(0)).payload());
    assertEquals(NatsParser.Pong.INSTANCE, ops.get(1));
  }

  @Test
  void anHpubWithoutHeaderBytesIsAPublishWithoutHeaders() {
    // nats.js sends JetStream publishes this way (caught by running its client against a node).
    NatsParser.Pub p = (NatsParser.Pub) parse("HPUB big.x _INBOX.a.b 0 5\r\nhello\r\n").get(0);
    assertNull(p.headers());
    assertArrayEquals("hello".getBytes(StandardCharsets.UTF_8), p.payload());
  }

  @Test
  void malformedInputEndsTheConnectionWithNatsServersTexts() {
    assertEquals(List.of(new NatsParser.Fatal(NatsParser.UNKNOWN)), parse("FOO bar\r\nPING\r\n"),
        "an unknown verb; nothing after it is taken");
    assertEquals(new NatsParser.Fatal(NatsParser.UNKNOWN), parse("PUB a 3\r\nabcd\r\n").get(0),
        "the body must end with CRLF exactly at its length");
    assertEquals(new NatsParser.Fatal(NatsParser.UNKNOWN), parse("PUB a x\r\n").get(0), "a size that is no number");
    assertEquals(new NatsParser.Fatal(NatsParser.UNKNOWN), parse("HPUB a 20 10\r\n").get(0),
        "headers longer than the whole");
    assertEquals(new NatsParser.Fatal(NatsParser.MAX_PAYLOAD), parse("PUB a " + (MAX_PAYLOAD + 1) + "\r\n").get(0));
    assertEquals(new NatsParser.Fatal(NatsParser.CONTROL_LINE), parse("SUB " + "a".repeat(5000)).get(0),
        "a control line over 4 KiB, even before its line break");
    assertEquals(List.of(new NatsParser.Invalid("Invalid Subject"), NatsParser.Ping.INSTANCE),
        parse("SUB a..b 1\r\nPING\r\n"), "a bad subscription subject is answered; the connection goes on");
  }

  @Test
  void headerBlocksAndStatusLinesAreEncodedAsClientsParseThem() {
    assertEquals("NATS/1.0 404 No Messages\r\n\r\n",
        new String(NatsHeaders.encode(404, "No Messages", null), StandardCharsets.UTF_8), "28 bytes, as ADR-13 shows");
    byte[] noResponders = NatsHeaders.encode(503, null, Map.of("Nats-Subject", List.of("svc.x")));
    assertEquals("NATS/1.0 503\r\nNats-Subject: svc.x\r\n\r\n", new String(noResponders, StandardCharsets.UTF_8));
    assertEquals(32 + "svc.x".length(), noResponders.length, "nats-server's no-responders frame length");
    NatsHeaders.Block b = NatsHeaders.parse(
        "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 3\r\nX: 1\r\nX: 2\r\n\r\n".getBytes(StandardCharsets.UTF_8));
    assertEquals(408, b.status());
    assertEquals("Request Timeout", b.description());
    assertEquals(List.of("1", "2"), b.headers().get("X"), "a repeated key keeps its values in order");
    assertEquals("3", NatsHeaders.first(b.headers(), "nats-pending-messages"), "names are looked up case-insensitively");
    assertTrue(NatsHeaders.parse("NATS/1.0\r\n\r\n".getBytes(StandardCharsets.UTF_8)).headers().isEmpty());
  }

  @Test
  void theSublistMatchesWildcardsAndForgetsWhatIsRemoved() {
    Sublist<String> s = new Sublist<>();
    s.add("orders.*", "star");
    s.add("orders.>", "rest");
    s.add("orders.new", "literal");
    s.add(">", "all");
    assertEquals(List.of("all", "rest", "literal", "star"), s.match("orders.new"));
    assertEquals(List.of("all", "rest"), s.match("orders.new.eu"));
    assertEquals(List.of("all"), s.match("orders"), "> needs at least one more token");
    assertTrue(s.remove("orders.*", "star"));
    assertEquals(List.of("all", "rest", "literal"), s.match("orders.new"));
    assertEquals(false, s.remove("orders.*", "star"), "removed once");
    assertEquals(3, s.size());
  }

  /** PUB lines are read from their bytes when they are plain ASCII, else from a string: the same either way. */
  @Test
  void pubLinesInEveryFormClientsMaySendReadAlike() {
    assertEquals("Pub[a.b,null,null,xyz]\n", describe(parse("pub a.b 3\r\nxyz\r\n")), "any case");
    assertEquals("Pub[a.b,_INBOX.1,null,xyz]\n", describe(parse("PUB\ta.b \t _INBOX.1\t3 \r\nxyz\r\n")),
        "tabs and spaces in any number");
    assertEquals("Pub[a.b,_INBOX.1,NATS/1.0\r\n\r\n,xyz]\n",
        describe(parse("  HPUB a.b _INBOX.1 12 15\r\nNATS/1.0\r\n\r\nxyz\r\n")), "leading blanks, headers");
    assertEquals("Pub[grüße.b,null,null,xyz]\n", describe(parse("PUB grüße.b 3\r\nxyz\r\n")), "UTF-8 in the subject");
    assertEquals("Pub[a.b,null,null,xyz]\n", describe(parse("PUB a.b 3\u000b\r\nxyz\r\n")),
        "other whitespace at the end is stripped, as before");
    assertEquals(List.of(new NatsParser.Fatal(NatsParser.UNKNOWN)), parse("PUB a b c 3\r\nxyz\r\n"), "too many arguments");
    assertEquals(List.of(new NatsParser.Fatal(NatsParser.UNKNOWN)), parse("PUBX a 3\r\nxyz\r\n"), "another verb");
    assertEquals(List.of(new NatsParser.Fatal(NatsParser.UNKNOWN)), parse("PUB a -3\r\n"), "a negative size");
  }

  @Test
  void argumentsAreSeparatedBySpacesAndTabsInAnyNumber() {
    assertArrayEquals(new String[] {"orders.new", "_INBOX.1", "5"}, NatsParser.arguments("orders.new \t _INBOX.1\t5 "));
    assertArrayEquals(new String[] {"x"}, NatsParser.arguments("  x"));
    assertArrayEquals(new String[0], NatsParser.arguments(" \t "));
  }
}

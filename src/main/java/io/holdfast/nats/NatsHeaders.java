package io.holdfast.nats;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * NATS header blocks (ADR-4): {@code NATS/1.0[ <status>[ <description>]]CRLF}, then {@code
 * Key: Value CRLF} lines (keys repeat, case kept), then an empty line. Holdfast stores headers as
 * a sorted map of value lists (the order of distinct keys is not kept; the order of one key's
 * values is).
 */
public final class NatsHeaders {
  private static final String VERSION = "NATS/1.0";

  private NatsHeaders() {}

  /** A parsed block: {@code status} 0 when the block has none. */
  public record Block(int status, String description, SortedMap<String, List<String>> headers) {}

  /** Parses a header block, or throws IllegalArgumentException naming what is wrong. */
  public static Block parse(byte[] block) {
    String text = new String(block, StandardCharsets.UTF_8);
    if (!text.startsWith(VERSION)) {
      throw new IllegalArgumentException("header block does not start with NATS/1.0");
    }
    if (!text.endsWith("\r\n\r\n")) {
      throw new IllegalArgumentException("header block does not end with an empty line");
    }
    String[] lines = text.substring(0, text.length() - 4).split("\r\n", -1);
    String first = lines[0].substring(VERSION.length()).strip();
    int status = 0;
    String description = "";
    if (!first.isEmpty()) {
      int space = first.indexOf(' ');
      String code = space < 0 ? first : first.substring(0, space);
      try {
        status = Integer.parseInt(code);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad status in header block: " + code);
      }
      description = space < 0 ? "" : first.substring(space + 1).strip();
    }
    TreeMap<String, List<String>> headers = new TreeMap<>();
    for (int i = 1; i < lines.length; i++) {
      String line = lines[i];
      int colon = line.indexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException("header line without a name: " + line);
      }
      String name = line.substring(0, colon).strip();
      headers.computeIfAbsent(name, k -> new ArrayList<>()).add(line.substring(colon + 1).strip());
    }
    return new Block(status, description, headers);
  }

  /** A block with only the given headers (null or empty: none). */
  public static byte[] encode(Map<String, List<String>> headers) {
    return encode(0, null, headers);
  }

  /** A status block ({@code NATS/1.0 404 No Messages}) with the given headers. */
  public static byte[] encode(int status, String description, Map<String, List<String>> headers) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(64);
    StringBuilder first = new StringBuilder(VERSION);
    if (status > 0) {
      first.append(' ').append(status);
      if (description != null && !description.isEmpty()) {
        first.append(' ').append(description);
      }
    }
    first.append("\r\n");
    out.writeBytes(first.toString().getBytes(StandardCharsets.UTF_8));
    if (headers != null) {
      for (Map.Entry<String, List<String>> e : headers.entrySet()) {
        for (String v : e.getValue()) {
          out.writeBytes((e.getKey() + ": " + v + "\r\n").getBytes(StandardCharsets.UTF_8));
        }
      }
    }
    out.writeBytes("\r\n".getBytes(StandardCharsets.UTF_8));
    return out.toByteArray();
  }

  /** The first value of {@code name} (case-insensitive, as NATS clients look headers up), or null. */
  public static String first(Map<String, List<String>> headers, String name) {
    if (headers == null) {
      return null;
    }
    for (Map.Entry<String, List<String>> e : headers.entrySet()) {
      if (e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty()) {
        return e.getValue().get(0);
      }
    }
    return null;
  }
}

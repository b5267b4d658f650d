package io.holdfast.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Minimal "--name value" / "--flag" parser. Unknown options and missing values are usage errors
 * with a clear message, never stack traces.
 */
final class Args {
  private final Map<String, String> options = new LinkedHashMap<>();
  /** Every value of each option, in order (an option given several times, like --filter). */
  private final Map<String, List<String>> all = new LinkedHashMap<>();
  private final List<String> positional = new ArrayList<>();

  /** Thrown for bad command-line input; the message is shown to the user as is. */
  static final class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }

  static Args parse(String[] argv, int from, Set<String> valued, Set<String> flags) {
    Args a = new Args();
    for (int i = from; i < argv.length; i++) {
      String arg = argv[i];
      if (arg.startsWith("--")) {
        String name = arg.substring(2);
        String inline = null;
        int eq = name.indexOf('=');
        if (eq >= 0) {
          inline = name.substring(eq + 1);
          name = name.substring(0, eq);
        }
        if (flags.contains(name) && inline == null) {
          a.options.put(name, "true");
        } else if (valued.contains(name)) {
          if (inline == null) {
            if (i + 1 >= argv.length) {
              throw new UsageException("option --" + name + " needs a value");
            }
            inline = argv[++i];
          }
          a.options.put(name, inline);
          a.all.computeIfAbsent(name, k -> new ArrayList<>()).add(inline);
        } else {
          throw new UsageException("unknown option --" + name);
        }
      } else {
        a.positional.add(arg);
      }
    }
    return a;
  }

  boolean flag(String name) {
    return options.containsKey(name);
  }

  /** Every value given for {@code name}, in order; empty if none. */
  List<String> strings(String name) {
    return all.getOrDefault(name, List.of());
  }

  String string(String name, String fallback) {
    return options.getOrDefault(name, fallback);
  }

  long longValue(String name, long fallback, long min, long max) {
    String v = options.get(name);
    if (v == null) {
      return fallback;
    }
    long parsed;
    try {
      parsed = Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw new UsageException("--" + name + " must be a whole number, got '" + v + "'");
    }
    if (parsed < min || parsed > max) {
      throw new UsageException("--" + name + " must be between " + min + " and " + max + ", got " + parsed);
    }
    return parsed;
  }

  List<String> positional() {
    return positional;
  }
}

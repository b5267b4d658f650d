package io.holdfast.cli;

import io.holdfast.security.Users;
import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Makes the bcrypt hash a node's config keeps in place of a password or token
 * ({@code holdfast.security.users}): the secret itself is never written to a config file.
 */
@Command(name = "passwd", description = {
    "Print the bcrypt hash of a password or token, for holdfast.security.users in a node's config.",
    "The secret is read from the terminal (asked twice), or as one line from standard input. With "
        + "--generate, a random token is made instead: its value is printed first, its hash second."})
final class PasswdCommand extends CliCommand {
  @Option(names = "--generate", description = "Make a random token (32 bytes, URL-safe base64) and print it and its hash.")
  boolean generate;
  @Option(names = "--cost", paramLabel = "N", description = "bcrypt's cost: 2^N rounds (4-16, default ${DEFAULT-VALUE}).")
  int cost = Users.COST;

  @Override
  public Integer call() throws IOException {
    between("--cost", cost, 4, 16);
    char[] secret;
    if (generate) {
      byte[] random = new byte[32];
      new SecureRandom().nextBytes(random);
      secret = Base64.getUrlEncoder().withoutPadding().encodeToString(random).toCharArray();
      out().println(secret);
    } else {
      secret = read();
    }
    try {
      out().println(Users.hash(secret, cost));
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    } finally {
      Arrays.fill(secret, '\0');
    }
    return 0;
  }

  private static char[] read() throws IOException {
    Console console = System.console();
    if (console != null) {
      char[] first = console.readPassword("password: ");
      char[] again = console.readPassword("again: ");
      if (first == null || again == null || !Arrays.equals(first, again)) {
        throw new UsageException("the two entries differ");
      }
      return first;
    }
    String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
    if (line == null) {
      throw new UsageException("no password on standard input");
    }
    return line.toCharArray();
  }
}

package io.holdfast.cli;

/**
 * Bad command-line input, found by a command after picocli parsed it (a value out of range, a
 * combination that makes no sense): the message is shown as is, with a pointer to the command's
 * {@code --help}, and the exit code is 2. Anything else a command throws — an
 * {@link IllegalArgumentException} from inside the program included — is a failure, exit 1.
 */
final class UsageException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  UsageException(String message) {
    super(message);
  }
}

package dev.outpost.stub.server;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Terraform-style version constraint: comma-separated terms, each an operator
 * ({@code =}, {@code !=}, {@code >}, {@code >=}, {@code <}, {@code <=}, {@code ~>}) and a
 * version. {@code ~> 1.11} allows 1.11 and later 1.x; {@code ~> 1.11.2} allows 1.11.2 and later
 * 1.11.x. Pre-release suffixes are ignored.
 */
record VersionConstraint(String text, List<Term> terms) {
  private static final Pattern TERM =
      Pattern.compile("\\s*(=|!=|>=|<=|>|<|~>)?\\s*v?(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?\\s*");

  record Term(String op, int[] version, int precision) {}

  /** Parses; throws IllegalArgumentException naming the bad term. */
  static VersionConstraint parse(String text) {
    List<Term> terms = new ArrayList<>();
    for (String part : text.split(",")) {
      Matcher m = TERM.matcher(part);
      if (!m.matches()) {
        throw new IllegalArgumentException("version constraint term '" + part.strip()
            + "' is invalid: use e.g. \"~> 1.11\", \">= 1.5, < 2.0\" or \"= 1.11.4\"");
      }
      int precision = m.group(4) != null ? 3 : m.group(3) != null ? 2 : 1;
      terms.add(new Term(m.group(1) == null ? "=" : m.group(1), new int[] {
          Integer.parseInt(m.group(2)), m.group(3) == null ? 0 : Integer.parseInt(m.group(3)),
          m.group(4) == null ? 0 : Integer.parseInt(m.group(4))}, precision));
    }
    return new VersionConstraint(text, List.copyOf(terms));
  }

  boolean allows(String version) {
    int[] v = numbers(version);
    if (v == null) {
      return false;
    }
    for (Term t : terms) {
      int c = compare(v, t.version());
      boolean ok = switch (t.op()) {
        case "=" -> c == 0;
        case "!=" -> c != 0;
        case ">" -> c > 0;
        case ">=" -> c >= 0;
        case "<" -> c < 0;
        case "<=" -> c <= 0;
        default -> c >= 0 && pessimisticUpperBound(v, t);
      };
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  /** "~> X.Y" keeps X fixed; "~> X.Y.Z" keeps X.Y fixed; "~> X" keeps nothing fixed. */
  private static boolean pessimisticUpperBound(int[] v, Term t) {
    return switch (t.precision()) {
      case 3 -> v[0] == t.version()[0] && v[1] == t.version()[1];
      case 2 -> v[0] == t.version()[0];
      default -> true;
    };
  }

  private static int compare(int[] a, int[] b) {
    for (int i = 0; i < 3; i++) {
      if (a[i] != b[i]) {
        return Integer.compare(a[i], b[i]);
      }
    }
    return 0;
  }

  static int[] numbers(String version) {
    String[] parts = version.replaceFirst("^v", "").split("[-+]")[0].split("\\.");
    try {
      return new int[] {Integer.parseInt(parts[0]),
          parts.length > 1 ? Integer.parseInt(parts[1]) : 0,
          parts.length > 2 ? Integer.parseInt(parts[2]) : 0};
    } catch (NumberFormatException e) {
      return null;
    }
  }
}

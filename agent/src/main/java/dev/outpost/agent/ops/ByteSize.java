package dev.outpost.agent.ops;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Sizes as operators write them: "1073741824", "512MiB", "1G", "10GiB" (binary multiples). */
public final class ByteSize {
  private static final Pattern SIZE = Pattern.compile("(\\d{1,19})\\s*(?:([KMGT])(?:I?B)?|B)?");

  private ByteSize() {}

  /** 1073741824 -> "1GiB", 1536 -> "1536": exact binary units only, so nothing is rounded. */
  public static String format(long n) {
    String[] units = {"", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (u < units.length - 1 && n != 0 && n % 1024 == 0) {
      n /= 1024;
      u++;
    }
    return n + units[u];
  }

  /** @throws IllegalArgumentException naming the value and the accepted forms */
  public static long parse(String text) {
    Matcher m = SIZE.matcher(text == null ? "" : text.strip().toUpperCase(Locale.ROOT));
    if (!m.matches()) {
      throw new IllegalArgumentException("'" + text + "' is not a size: use a number of bytes,"
          + " or a number with KiB, MiB, GiB or TiB (e.g. 512MiB)");
    }
    long n;
    try {
      n = Long.parseLong(m.group(1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + text + "' is too large", e);
    }
    int shift = m.group(2) == null ? 0 : 10 * ("KMGT".indexOf(m.group(2).charAt(0)) + 1);
    if (shift > 0 && n > (Long.MAX_VALUE >> shift)) {
      throw new IllegalArgumentException("'" + text + "' is too large");
    }
    return n << shift;
  }
}

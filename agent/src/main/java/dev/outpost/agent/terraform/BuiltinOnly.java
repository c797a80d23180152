package dev.outpost.agent.terraform;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Whether a root module provably needs no provider plugin: every resource and data source in
 * its files is one of Terraform's built-in provider, nothing names a provider, a module, an
 * import or a removed resource, and the prior state holds only built-in resources. Its init
 * then installs nothing, so it reads the shared provider cache at most and need not queue for
 * the cache's writer lock behind other jobs' inits.
 *
 * <p>Decided from the text, conservatively: anything that merely looks like a block of another
 * kind (in a comment or a string too), a JSON configuration file, or a file that cannot be read
 * answers "may need one", and the init takes the lock as every other init does.
 */
final class BuiltinOnly {
  /** The built-in provider's resources and data sources. */
  private static final Set<String> BUILTIN_TYPES = Set.of("terraform_data",
      "terraform_remote_state");
  private static final String BUILTIN_PROVIDER = "terraform.io/builtin/terraform";
  /** A block of a resource kind: its type is its first label, quoted or not. */
  private static final Pattern TYPED_BLOCK = Pattern.compile(
      "\\b(?:resource|data|ephemeral|list)\\s+\"?([^\\s\"{]+)");
  /** Words that bring in a provider another way. */
  private static final Pattern OTHER_SOURCES = Pattern.compile(
      "\\b(?:provider|providers|required_providers|module|import|removed)\\b");
  private static final ObjectMapper JSON = new ObjectMapper();

  private BuiltinOnly() {}

  static boolean holds(Path workingDir) {
    try (Stream<Path> files = Files.list(workingDir)) {
      for (Path file : (Iterable<Path>) files::iterator) {
        String name = file.getFileName().toString();
        if (name.endsWith(".tf.json") || name.endsWith(".tofu.json")
            || name.equals(".terraform.lock.hcl")) {
          return false;
        }
        if ((name.endsWith(".tf") || name.endsWith(".tofu")) && !textNeedsNone(
            Files.readString(file))) {
          return false;
        }
      }
      Path state = workingDir.resolve("terraform.tfstate");
      return !Files.exists(state) || stateNeedsNone(state);
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  static boolean textNeedsNone(String text) {
    if (OTHER_SOURCES.matcher(text).find()) {
      return false;
    }
    Matcher m = TYPED_BLOCK.matcher(text);
    while (m.find()) {
      if (!BUILTIN_TYPES.contains(m.group(1))) {
        return false;
      }
    }
    return true;
  }

  private static boolean stateNeedsNone(Path state) throws IOException {
    if (Files.size(state) == 0) {
      return true;
    }
    for (JsonNode resource : JSON.readTree(state.toFile()).path("resources")) {
      if (!resource.path("provider").asText().contains("\"" + BUILTIN_PROVIDER + "\"")) {
        return false;
      }
    }
    return true;
  }
}

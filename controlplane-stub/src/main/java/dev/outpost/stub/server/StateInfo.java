package dev.outpost.stub.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;

/** The serial and lineage of a Terraform state file, which decide whether it may be adopted. */
record StateInfo(long serial, String lineage) {
  private static final ObjectMapper JSON = new ObjectMapper();

  static StateInfo parse(byte[] state) {
    try {
      JsonNode root = JSON.readTree(state);
      if (root == null || !root.isObject()) {
        throw new IllegalArgumentException("state is not a JSON object");
      }
      return new StateInfo(root.path("serial").asLong(0), root.path("lineage").asText(""));
    } catch (IOException e) {
      throw new IllegalArgumentException("state is not valid JSON: " + e.getMessage(), e);
    }
  }

  /** Null when {@code next} may replace this state, else why not. */
  String refusalToReplaceWith(StateInfo next) {
    if (!lineage.isEmpty() && !lineage.equals(next.lineage)) {
      return "state lineage " + next.lineage + " differs from the workspace's " + lineage;
    }
    if (next.serial < serial) {
      return "state serial " + next.serial + " is lower than the workspace's " + serial;
    }
    return null;
  }
}

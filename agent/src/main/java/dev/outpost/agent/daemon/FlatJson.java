package dev.outpost.agent.daemon;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The top-level scalar fields of small JSON objects (Terraform's {@code version -json},
 * bubblewrap's info and status files), read with Jackson's streaming parser. The agent reads
 * these while it starts, before any job: without the object mapper, whose few hundred classes
 * would stay in an idle agent's memory.
 */
public final class FlatJson {
  private static final JsonFactory FACTORY = new JsonFactory();

  private FlatJson() {}

  /**
   * Each object of {@code text} (one, or several one after the other), as its scalar fields:
   * strings, numbers (Long or Double), booleans and nulls; nested objects and arrays are
   * skipped. Throws on anything that is not whole JSON objects.
   */
  public static List<Map<String, Object>> objects(String text) throws IOException {
    List<Map<String, Object>> objects = new ArrayList<>();
    try (JsonParser parser = FACTORY.createParser(text)) {
      for (JsonToken token = parser.nextToken(); token != null; token = parser.nextToken()) {
        if (token != JsonToken.START_OBJECT) {
          throw new IOException("a JSON object was expected, not " + token);
        }
        Map<String, Object> fields = new LinkedHashMap<>();
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
          String name = parser.currentName();
          JsonToken value = parser.nextToken();
          switch (value) {
            case START_OBJECT, START_ARRAY -> parser.skipChildren();
            case VALUE_STRING -> fields.put(name, parser.getText());
            case VALUE_NUMBER_INT -> fields.put(name, parser.getLongValue());
            case VALUE_NUMBER_FLOAT -> fields.put(name, parser.getDoubleValue());
            case VALUE_TRUE, VALUE_FALSE -> fields.put(name, parser.getBooleanValue());
            default -> fields.put(name, null);
          }
        }
        objects.add(fields);
      }
    }
    return objects;
  }
}

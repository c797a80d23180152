package dev.outpost.agent.terraform;

import java.util.List;

/** Every flag the runner always passes, in one place (see terraform-exec's defaults). */
final class Options {
  /** Never prompt, never colour: nobody reads a terminal here. */
  static final List<String> NON_INTERACTIVE = List.of("-input=false", "-no-color");
  static final String JSON = "-json";

  private Options() {}
}

package dev.outpost.agent.terraform;

/**
 * Options of `terraform init`.
 *
 * @param upgrade allow newer provider versions than the lock file's (-upgrade)
 */
public record InitOptions(boolean upgrade) {
  public static InitOptions defaults() {
    return new InitOptions(false);
  }
}

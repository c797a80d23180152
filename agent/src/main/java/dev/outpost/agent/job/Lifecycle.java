package dev.outpost.agent.job;

/**
 * Shared by the agent and its jobs: whether results may still be delivered. The agent abandons
 * delivery only when it is about to exit without a usable credential; jobs then keep their
 * directories (with Terraform's state) instead of retrying forever.
 */
public final class Lifecycle {
  private volatile boolean abandoned;

  public void abandonDelivery() {
    abandoned = true;
  }

  public boolean deliveryAbandoned() {
    return abandoned;
  }
}

package dev.outpost.agent.terraform;

/** What the control plane compares before it accepts a state: same lineage, serial not lower. */
public record StateIdentity(long serial, String lineage) {}

package dev.outpost.stub.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class VersionConstraintTest {
  @Test
  void pessimisticOperator_followsTerraformsMeaning() {
    assertThat(VersionConstraint.parse("~> 1.11").allows("1.11.4")).isTrue();
    assertThat(VersionConstraint.parse("~> 1.11").allows("1.12.0")).isTrue();
    assertThat(VersionConstraint.parse("~> 1.11").allows("2.0.0")).isFalse();
    assertThat(VersionConstraint.parse("~> 1.11").allows("1.10.9")).isFalse();
    assertThat(VersionConstraint.parse("~> 1.11.2").allows("1.11.9")).isTrue();
    assertThat(VersionConstraint.parse("~> 1.11.2").allows("1.12.0")).isFalse();
  }

  @Test
  void rangesAndExclusions_combine() {
    VersionConstraint c = VersionConstraint.parse(">= 1.5, < 2.0, != 1.10.0");
    assertThat(c.allows("1.5.0")).isTrue();
    assertThat(c.allows("1.10.0")).isFalse();
    assertThat(c.allows("1.11.4-beta1")).isTrue();
    assertThat(c.allows("2.0.0")).isFalse();
    assertThat(VersionConstraint.parse("1.11.4").allows("1.11.4")).isTrue();
    assertThat(VersionConstraint.parse("= 1.11.4").allows("1.11.5")).isFalse();
    assertThat(VersionConstraint.parse(">= 1.5").allows("")).isFalse();
  }

  @Test
  void malformedTerms_areRefused_namingTheTerm() {
    assertThatThrownBy(() -> VersionConstraint.parse(">= 1.5, soon"))
        .hasMessageContaining("'soon' is invalid");
  }
}

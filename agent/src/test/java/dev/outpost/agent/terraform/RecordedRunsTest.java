package dev.outpost.agent.terraform;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a restarted agent finds of the commands its predecessor started in a job directory. */
class RecordedRunsTest {
  @TempDir
  Path job;

  private Path launch(String name, String... files) throws Exception {
    Path ctl = Files.createDirectories(job.resolve(".outpost/run").resolve(name));
    for (int i = 0; i < files.length; i += 2) {
      Files.writeString(ctl.resolve(files[i]), files[i + 1]);
    }
    return ctl;
  }

  @Test
  void runsComeInTheOrderStarted_withTheirStatus_andALaunchThatNeverRanIsLeftOut()
      throws Exception {
    launch("01-init", "sandbox", "none\n", "pid", "999999999 0\n", "exit", "0\n");
    launch("02-plan"); // the agent died before the launch recorded a pid: it never ran
    launch("03-plan", "sandbox", "none\n", "pid", "999999998 0\n", "exit", "2\n");
    launch("10-apply", "sandbox", "none\n", "pid", "999999997 0\n");
    Files.writeString(job.resolve(".outpost/run/03-plan.stdout"), "{}\n");

    List<TerraformRun> runs = Terraform.recordedRuns(job);

    assertThat(runs).extracting(TerraformRun::stage).containsExactly("init", "plan", "apply");
    assertThat(runs.get(0).exitCode()).contains(0);
    assertThat(runs.get(1).exitCode()).contains(2);
    assertThat(runs.get(1).stdoutFile()).isEqualTo(job.resolve(".outpost/run/03-plan.stdout"));
    // No status and no such process: gone, which the job reports as interrupted.
    assertThat(runs.get(2).exitCode()).isEmpty();
    assertThat(runs.get(2).process().isAlive()).isFalse();
  }

  @Test
  void aJobDirectoryWithoutRuns_hasNone() throws Exception {
    assertThat(Terraform.recordedRuns(job)).isEmpty();
  }
}

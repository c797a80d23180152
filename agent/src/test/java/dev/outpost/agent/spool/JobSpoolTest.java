package dev.outpost.agent.spool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.outpost.proto.v1.CompleteJobRequest;
import dev.outpost.proto.v1.JobAssignment;
import dev.outpost.proto.v1.JobOutcome;
import dev.outpost.proto.v1.LeaseRef;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.Variable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The job records a restarted agent resumes from, on real files. */
class JobSpoolTest {
  @TempDir
  Path state;

  private static JobAssignment assignment(String jobId) {
    return JobAssignment.newBuilder()
        .setLease(LeaseRef.newBuilder().setJobId(jobId).setLeaseId("lease-" + jobId))
        .addVariables(Variable.newBuilder().setName("token").setValue("s3cret").setSensitive(true))
        .build();
  }

  @Test
  void aRecordedJob_isFoundAgain_withItsAssignment_andIsPrivate() throws Exception {
    JobSpool spool = JobSpool.create(state, assignment("job-1"));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(spool.dir())))
        .isEqualTo("rwx------");
    assertThat(JobSpool.existing(state)).singleElement()
        .satisfies(s -> assertThat(s.assignment()).isEqualTo(assignment("job-1")));
    assertThatThrownBy(() -> JobSpool.create(state, assignment("job-1")))
        .hasMessageContaining("already has a record of job job-1");
  }

  @Test
  void aSpooledResult_isWhole_andItsPayloadsAreCopies() throws Exception {
    JobSpool spool = JobSpool.create(state, assignment("job-2"));
    assertThat(spool.result()).isEmpty();
    // A result an agent died while writing: ignored, then replaced.
    Files.createDirectories(spool.dir().resolve("result.tmp"));
    Files.writeString(spool.dir().resolve("result.tmp/request.pb"), "torn");
    assertThat(spool.result()).isEmpty();

    Path stateFile = Files.writeString(state.resolve("terraform.tfstate"), "{\"serial\": 3}");
    CompleteJobRequest request = CompleteJobRequest.newBuilder()
        .setLease(assignment("job-2").getLease()).setOutcome(JobOutcome.JOB_OUTCOME_SUCCEEDED)
        .setLastLogSeq(42).build();
    spool.writeResult(request, Map.of(PayloadKind.PAYLOAD_KIND_STATE, stateFile));
    Files.writeString(stateFile, "changed after spooling");

    JobSpool.SpooledResult read = JobSpool.existing(state).get(0).result().orElseThrow();
    assertThat(read.request()).isEqualTo(request);
    assertThat(read.payloads()).containsOnlyKeys(PayloadKind.PAYLOAD_KIND_STATE);
    assertThat(Files.readString(read.payloads().get(PayloadKind.PAYLOAD_KIND_STATE)))
        .isEqualTo("{\"serial\": 3}");
    assertThat(spool.dir().resolve("result.tmp")).doesNotExist();
  }

  @Test
  void anUnreadableRecord_isLeftAlone_anUnfinishedOneRemoved_andTheOthersAreResumed() throws Exception {
    JobSpool.create(state, assignment("job-3"));
    Path broken = Files.createDirectories(state.resolve("jobs/job-4"));
    Files.write(broken.resolve("assignment.pb"), new byte[] {(byte) 0xff, 0x01, 0x02});
    Path unfinished = Files.createDirectories(state.resolve("jobs/job-9"));
    Files.writeString(unfinished.resolve("assignment.pb.tmp"), "half");
    Path misnamed = Files.createDirectories(state.resolve("jobs/job-5"));
    Files.write(misnamed.resolve("assignment.pb"), assignment("job-6").toByteArray());

    assertThat(JobSpool.existing(state)).extracting(JobSpool::jobId).containsExactly("job-3");
    assertThat(broken.resolve("assignment.pb")).exists();
    assertThat(misnamed.resolve("assignment.pb")).exists();
    assertThat(unfinished).as("a record the agent died while writing").doesNotExist();
  }

  @Test
  void aRefusedResult_isSetAside_andAnAcknowledgedOneRemoved() throws Exception {
    JobSpool refused = JobSpool.create(state, assignment("job-7"));
    Path aside = refused.setAside();
    assertThat(aside).isEqualTo(state.resolve("refused/job-7"));
    assertThat(aside.resolve("assignment.pb")).exists();

    JobSpool done = JobSpool.create(state, assignment("job-8"));
    done.delete();
    assertThat(JobSpool.existing(state)).isEmpty();
  }

  @Test
  void usage_isTheBytesOfEveryRecordAndRefusedResult() throws Exception {
    JobSpool kept = JobSpool.create(state, assignment("job-1"));
    Files.write(kept.dir().resolve("extra"), new byte[5000]);
    JobSpool.create(state, assignment("job-2")).setAside();
    long expected = 5000 + 2L * assignment("job-1").toByteArray().length;

    assertThat(JobSpool.usage(state)).isEqualTo(expected);
  }

  /**
   * Another job's record is deleted once its result is delivered, while a starting job counts
   * the spool: the count must leave the vanishing files out, not fail the job.
   */
  @Test
  void usage_whileAnotherRecordIsBeingDeleted_countsWhatIsLeft() throws Exception {
    JobSpool kept = JobSpool.create(state, assignment("job-kept"));
    long keptBytes = JobSpool.usage(state);
    AtomicBoolean done = new AtomicBoolean();
    AtomicInteger deleted = new AtomicInteger();
    Thread churn = new Thread(() -> {
      try {
        for (int i = 0; !done.get(); i++) {
          JobSpool gone = JobSpool.create(state, assignment("job-" + i));
          for (int f = 0; f < 200; f++) {
            Files.write(gone.dir().resolve("f" + f), new byte[10]);
          }
          gone.delete();
          deleted.incrementAndGet();
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
    churn.start();
    try {
      // Enough walks to overlap many deletions: the first failure ends the test.
      while (deleted.get() < 100 && churn.isAlive()) {
        assertThat(JobSpool.usage(state)).isGreaterThanOrEqualTo(keptBytes);
      }
    } finally {
      done.set(true);
      churn.join();
    }
    assertThat(deleted).as("records created and deleted meanwhile")
        .hasValueGreaterThanOrEqualTo(100);
    assertThat(kept.dir()).exists();
  }

  @Test
  void aJobIdThatIsNoSafeName_isRefused() {
    assertThatThrownBy(() -> JobSpool.create(state, assignment("../escape")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("safe");
  }
}

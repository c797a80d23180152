package dev.outpost.agent.job;

import dev.outpost.proto.v1.CompleteJobRequest;
import dev.outpost.proto.v1.CompleteJobResponse;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.PayloadRef;
import java.nio.file.Path;
import java.util.List;

/** The control-plane calls one job makes, all bound to its lease. */
public interface JobCalls {
  /** Downloads a payload of the job into {@code target}, checking its digest. */
  void download(PayloadKind kind, Path target) throws Exception;

  /** Uploads a result payload from {@code source}; returns what the control plane stored. */
  PayloadRef upload(PayloadKind kind, Path source) throws Exception;

  /** Returns the highest contiguous sequence the control plane has stored. */
  long appendLogs(List<LogEntry> batch) throws Exception;

  CompleteJobResponse complete(CompleteJobRequest request) throws Exception;
}

package dev.outpost.stub.server;

import io.grpc.Context;
import java.time.Instant;

/**
 * Who is calling the Provisioner service: proven by both a client certificate (agent name, org)
 * and an org key of the same organization. The certificate's serial and end of validity are
 * kept so that a session outliving either (revocation, expiry) can be ended.
 */
public record Principal(String org, String agentName, String keyId, String certSerial,
    Instant certNotAfter) {
  static final Context.Key<Principal> KEY = Context.key("outpost-principal");

  static Principal current() {
    Principal p = KEY.get();
    if (p == null) {
      throw new IllegalStateException("no authenticated principal in context");
    }
    return p;
  }
}

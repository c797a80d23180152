package dev.outpost.agent.daemon;

import dev.outpost.agent.ops.ConfigException;
import dev.outpost.proto.ProtocolVersion;
import io.grpc.CallCredentials;
import io.grpc.ChannelCredentials;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * The agent's credentials toward the control plane: the CA it trusts for the server, its
 * client identity (replaceable while running), and its org key (read per call).
 */
public final class Credentials {
  private final IdentityKeyManager keys = new IdentityKeyManager();
  private final ChannelCredentials channel;
  private final Path caFile;
  private final Path orgKeyFile;
  private final IdentitySource source;
  private volatile String lastGoodKey;

  private Credentials(Path caFile, Path orgKeyFile, IdentitySource source) {
    this.caFile = caFile;
    this.orgKeyFile = orgKeyFile;
    this.source = source;
    PemFiles.certificates("--ca", caFile);
    readOrgKey(orgKeyFile);
    try {
      this.channel = TlsChannelCredentials.newBuilder().keyManager(keys)
          .trustManager(caFile.toFile()).build();
    } catch (IOException e) {
      throw new ConfigException("--ca " + caFile + " cannot be used: " + e.getMessage(), e);
    }
  }

  /** Checks every file now, so that a bad one stops the agent at start with a clear message. */
  public static Credentials create(Path caFile, Path orgKeyFile, IdentitySource source) {
    Credentials c = new Credentials(caFile, orgKeyFile, source);
    if (source instanceof IdentitySource.OperatorFiles files) {
      c.install(files.load());
    } else if (source instanceof IdentitySource.Enrolled enrolled) {
      enrolled.load().ifPresent(c::install);
    }
    return c;
  }

  public ChannelCredentials channelCredentials() {
    return channel;
  }

  public IdentitySource source() {
    return source;
  }

  Path caFile() {
    return caFile;
  }

  /** The identity new connections present; null before enrollment. */
  Identity identity() {
    return keys.get();
  }

  /** The client certificate new connections present; empty before enrollment. */
  public java.util.Optional<java.security.cert.X509Certificate> certificate() {
    Identity identity = keys.get();
    return identity == null ? java.util.Optional.empty()
        : java.util.Optional.of(identity.certificate());
  }

  void install(Identity identity) {
    keys.set(identity);
  }

  /** The files whose change is worth a reconnect: org key and identity. */
  List<Path> watchedFiles() {
    List<Path> files = new ArrayList<>(source.files());
    files.add(orgKeyFile);
    return files;
  }

  Path orgKeyFile() {
    return orgKeyFile;
  }

  /**
   * Sends the org key and protocol version with every call. The key file is read per call so
   * that a rotated key is picked up without a restart.
   */
  public CallCredentials callCredentials() {
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
        Metadata headers = new Metadata();
        headers.put(ProtocolVersion.HEADER, ProtocolVersion.current());
        String key;
        try {
          key = readOrgKey(orgKeyFile);
          lastGoodKey = key;
        } catch (ConfigException e) {
          // A key file caught mid-rewrite (empty, half written) must not fail a running job;
          // the last key read stays in use until the file is whole again.
          key = lastGoodKey;
          if (key == null) {
            applier.fail(Status.UNAUTHENTICATED.withDescription(e.getMessage()));
            return;
          }
        }
        headers.put(ProtocolVersion.AUTHORIZATION, "Bearer " + key);
        applier.apply(headers);
      }
    };
  }

  static String readOrgKey(Path file) {
    try {
      String key = Files.readString(file, StandardCharsets.UTF_8).trim();
      if (key.isEmpty() || !key.chars().allMatch(c -> c > 32 && c < 127)) {
        throw new ConfigException("--org-key-file " + file
            + " must hold exactly one org key (opk_...) on one line");
      }
      return key;
    } catch (IOException e) {
      throw new ConfigException("--org-key-file " + file + " cannot be read: " + e.getMessage(), e);
    }
  }
}

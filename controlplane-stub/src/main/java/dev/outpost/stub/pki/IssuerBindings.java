package dev.outpost.stub.pki;

import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Operator CAs bound to one organization each ({@code serve --issuer-org CAFILE=ORG}): a
 * certificate such a CA issued belongs to that organization even when it carries no Outpost
 * URI SAN (cert-manager or an internal PKI rarely can add one). A certificate is matched to a
 * CA by its issuer DN and then by its signature, so a look-alike DN from another CA never
 * matches.
 */
public final class IssuerBindings {
  /** One {@code --issuer-org} setting as given. */
  public record Binding(Path caFile, String org) {}

  private record Bound(X509Certificate ca, String org) {}

  private final List<Bound> bound;

  private IssuerBindings(List<Bound> bound) {
    this.bound = List.copyOf(bound);
  }

  public static IssuerBindings none() {
    return new IssuerBindings(List.of());
  }

  /**
   * Reads every CA file (all certificates in it are bound, so a file may hold a root and its
   * intermediates).
   *
   * @throws IOException naming the file that cannot be read
   * @throws IllegalArgumentException when one CA is bound to two organizations
   */
  public static IssuerBindings load(List<Binding> bindings) throws IOException {
    List<Bound> bound = new ArrayList<>();
    for (Binding b : bindings) {
      for (X509Certificate ca : Pem.readCertificates(b.caFile())) {
        for (Bound other : bound) {
          if (other.ca().equals(ca) && !other.org().equals(b.org())) {
            throw new IllegalArgumentException("--issuer-org: CA " + ca.getSubjectX500Principal()
                + " (" + b.caFile() + ") is bound to both org " + other.org() + " and org "
                + b.org() + "; an issuer may be bound to exactly one organization");
          }
        }
        bound.add(new Bound(ca, b.org()));
      }
    }
    return new IssuerBindings(bound);
  }

  /** The bound CA certificates, which the TLS handshake must trust too. */
  public List<X509Certificate> certificates() {
    return bound.stream().map(Bound::ca).distinct().toList();
  }

  /** The organization the certificate's issuer is bound to, if it is. */
  public Optional<String> orgOf(X509Certificate certificate) {
    for (Bound b : bound) {
      if (b.ca().getSubjectX500Principal().equals(certificate.getIssuerX500Principal())
          && signedBy(certificate, b.ca())) {
        return Optional.of(b.org());
      }
    }
    return Optional.empty();
  }

  private static boolean signedBy(X509Certificate certificate, X509Certificate ca) {
    try {
      certificate.verify(ca.getPublicKey());
      return true;
    } catch (GeneralSecurityException | RuntimeException e) {
      return false;
    }
  }
}

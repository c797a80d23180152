package dev.outpost.stub.pki;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The organization and agent name an agent certificate carries in its URI SAN. */
public record AgentIdentity(String trustDomain, String org, String agentName) {
  private static final Pattern URI =
      Pattern.compile("spiffe://([^/]+)/org/([a-z0-9][a-z0-9-]*)/agent/([A-Za-z0-9._-]+)");
  private static final int URI_SAN = 6;

  public static String uri(String trustDomain, String org, String agentName) {
    return "spiffe://" + trustDomain + "/org/" + org + "/agent/" + agentName;
  }

  /** The identity in the certificate's URI SAN, if it has exactly one that matches the scheme. */
  public static Optional<AgentIdentity> of(X509Certificate certificate) {
    Collection<List<?>> sans;
    try {
      sans = certificate.getSubjectAlternativeNames();
    } catch (CertificateParsingException e) {
      return Optional.empty();
    }
    if (sans == null) {
      return Optional.empty();
    }
    AgentIdentity found = null;
    for (List<?> san : sans) {
      if (((Integer) san.get(0)) == URI_SAN) {
        Matcher m = URI.matcher(String.valueOf(san.get(1)));
        if (m.matches()) {
          if (found != null) {
            return Optional.empty();
          }
          found = new AgentIdentity(m.group(1), m.group(2), m.group(3));
        }
      }
    }
    return Optional.ofNullable(found);
  }
}

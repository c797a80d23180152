package dev.outpost.agent.packaging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeProjection;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.MapperFeature;
import tools.jackson.databind.cfg.CoercionAction;
import tools.jackson.databind.cfg.CoercionInputShape;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.type.LogicalType;

/**
 * packaging/kubernetes cannot be applied here (no cluster), so every document is parsed into
 * the Kubernetes model, strictly, and held to the rules of the README's "Sandbox" and
 * "Stopping the agent": the agent's sandbox needs, probes on the ops port, a grace period
 * that covers the drain, no host access, references that resolve, and a NetworkPolicy that
 * lets out only DNS and the control plane.
 */
class KubernetesManifestsTest {

  private static final Path DIR =
      Path.of(System.getProperty("outpost.repo.root", ".."), "packaging", "kubernetes");
  private static final List<String> FILES =
      List.of("agent.yaml", "certificate.yaml", "sidecar.yaml");

  /** Result delivery after Terraform stopped: a few calls to the control plane. */
  private static final Duration DELIVERY_MARGIN = Duration.ofSeconds(30);
  private static final Duration DEFAULT_DRAIN = Duration.ofMinutes(5);
  private static final Duration DEFAULT_CANCEL_GRACE = Duration.ofSeconds(60);
  private static final Set<String> PROBE_PATHS = Set.of("/healthz", "/readyz");
  private static final Set<String> CREDENTIAL_SETTINGS =
      Set.of("OUTPOST_CA", "OUTPOST_ORG_KEY_FILE", "OUTPOST_CERT", "OUTPOST_KEY");
  /** The keys cert-manager writes into a Certificate's Secret. */
  private static final Set<String> CERT_MANAGER_KEYS = Set.of("tls.crt", "tls.key", "ca.crt");

  private static final Map<String, Class<?>> KINDS = Map.of(
      "v1/Namespace", Namespace.class,
      "v1/ServiceAccount", ServiceAccount.class,
      "v1/Secret", Secret.class,
      "v1/ConfigMap", ConfigMap.class,
      "apps/v1/Deployment", Deployment.class,
      "policy/v1/PodDisruptionBudget", PodDisruptionBudget.class,
      "networking.k8s.io/v1/NetworkPolicy", NetworkPolicy.class,
      // A CRD: no model class, so its spec is checked by hand (certificate_*).
      "cert-manager.io/v1/Certificate", GenericKubernetesResource.class);

  // Duplicate keys are an error for kubectl; Jackson would keep the last one.
  private static final YAMLMapper YAML =
      YAMLMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();
  // fabric8 7+ is built on Jackson 3. The API server rejects `value: 2` for a string and
  // `"true"` for a boolean; Jackson would quietly convert them.
  private static final JsonMapper MODEL = JsonMapper.builder()
      .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
      .withCoercionConfig(LogicalType.Textual, c -> c
          .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
          .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
          .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
      .build();

  private static Manifests manifests;

  @BeforeAll
  static void load() throws IOException {
    List<Doc> docs = new ArrayList<>();
    for (String file : FILES) {
      docs.addAll(parse(file, Files.readString(DIR.resolve(file))));
    }
    manifests = new Manifests(docs);
  }

  // ---- strict parsing ----------------------------------------------------------------------

  @Test
  void directory_holdsExactlyTheCheckedManifests() throws IOException {
    try (Stream<Path> files = Files.list(DIR)) {
      assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.matches(".*\\.ya?ml")))
          .containsExactlyInAnyOrderElementsOf(FILES);
    }
    assertThat(manifests.docs()).extracting(Doc::where).anyMatch(w -> w.startsWith("agent.yaml"))
        .anyMatch(w -> w.startsWith("certificate.yaml")).anyMatch(w -> w.startsWith("sidecar"));
  }

  @Test
  void everyDocument_hasOnlyFieldsTheModelKnows() {
    List<String> unknown = new ArrayList<>();
    for (Doc doc : manifests.docs()) {
      // A Certificate's spec is the generic resource's additional properties by design.
      Object checked = doc.resource() instanceof GenericKubernetesResource g
          ? g.getMetadata() : doc.resource();
      unknownFields(checked, "").forEach(path -> unknown.add(doc.where() + ": " + path));
    }
    assertThat(unknown).isEmpty();
  }

  @Test
  void strictWalker_reportsAnUnknownFieldWithItsPath() throws IOException {
    String yaml = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: typo}
        spec:
          selector: {matchLabels: {app: typo}}
          template:
            metadata: {labels: {app: typo}}
            spec:
              containers:
                - name: agent
                  image: outpost-agent:0.1.0
                  securityContxt: {readOnlyRootFilesystem: true}
                  resources: {limits: {memory: 2Gi, sped: 3}}
        """;
    Doc doc = parse("typo.yaml", yaml).get(0);

    assertThat(unknownFields(doc.resource(), "")).containsExactlyInAnyOrder(
        "spec.template.spec.containers[0].securityContxt");
  }

  @Test
  void parsing_rejectsScalarsOfTheWrongTypeAndDuplicateKeys() {
    assertThatThrownBy(() -> parse("number.yaml", """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
        data: {OUTPOST_MAX_JOBS: 2}
        """)).hasMessageContaining("OUTPOST_MAX_JOBS");
    assertThatThrownBy(() -> parse("string.yaml", """
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: agent}
        automountServiceAccountToken: "false"
        """)).hasMessageContaining("automountServiceAccountToken");
    assertThatThrownBy(() -> parse("twice.yaml", """
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: agent}
        metadata: {name: other}
        """)).hasMessageContaining("metadata");
    assertThatThrownBy(() -> parse("kind.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {}\n"))
        .hasMessageContaining("v1/Pod");
  }

  // ---- pods ----------------------------------------------------------------------------------

  @Test
  void everyPod_isNonRootWithoutHostAccessOrPrivileges() {
    List<String> violations = new ArrayList<>();
    manifests.deployments().forEach(d -> violations.addAll(podViolations(d)));
    assertThat(violations).isEmpty();
  }

  @Test
  void everyAgent_hasWhatBubblewrapNeedsAndNothingMore() {
    assertThat(manifests.deployments()).extracting(d -> d.getMetadata().getName())
        .contains("outpost-agent", "ci-runner");
    List<String> violations = new ArrayList<>();
    manifests.deployments().forEach(d -> violations.addAll(agentViolations(d, manifests)));
    assertThat(violations).isEmpty();
  }

  @Test
  void policyChecks_rejectABrokenAgentPod() throws IOException {
    Deployment d =
        agentDeployment(parse("agent.yaml", Files.readString(DIR.resolve("agent.yaml"))));
    PodSpec pod = d.getSpec().getTemplate().getSpec();
    Container agent = pod.getContainers().get(0);
    agent.getSecurityContext().setPrivileged(true);
    agent.getSecurityContext().getCapabilities().setAdd(List.of("SYS_ADMIN"));
    agent.getSecurityContext().setReadOnlyRootFilesystem(null);
    agent.getReadinessProbe().getHttpGet().setPath("/metrics");
    agent.getLivenessProbe().getHttpGet().setPort(new IntOrString(8080));
    agent.getVolumeMounts().get(0).setReadOnly(false);
    pod.setTerminationGracePeriodSeconds(300L);
    pod.setHostNetwork(true);
    pod.getSecurityContext().setRunAsUser(0L);

    List<String> violations = new ArrayList<>(podViolations(d));
    violations.addAll(agentViolations(d, manifests));

    assertThat(String.join("\n", violations)).contains(
        "privileged", "adds capabilities [SYS_ADMIN]", "readOnlyRootFilesystem",
        "readinessProbe path /metrics", "livenessProbe port 8080", "hostNetwork",
        "runs as root", "terminationGracePeriodSeconds 300", "OUTPOST_CA",
        "not on a read-only mount");
  }

  @Test
  void everyReference_resolvesWithinTheManifests() {
    List<String> violations = new ArrayList<>();
    Set<String> namespaces = names(manifests.of(Namespace.class));
    Set<String> serviceAccounts = names(manifests.of(ServiceAccount.class));
    for (Doc doc : manifests.docs()) {
      HasMetadata r = (HasMetadata) doc.resource();
      if (!(r instanceof Namespace) && !namespaces.contains(r.getMetadata().getNamespace())) {
        violations.add(doc.where() + ": namespace " + r.getMetadata().getNamespace());
      }
    }
    for (Deployment d : manifests.deployments()) {
      String where = where(d);
      PodSpec pod = d.getSpec().getTemplate().getSpec();
      if (!serviceAccounts.contains(pod.getServiceAccountName())) {
        violations.add(where + ": service account " + pod.getServiceAccountName());
      }
      for (Volume v : pod.getVolumes()) {
        if (v.getSecret() != null) {
          violations.addAll(secretKeys(where, v.getSecret().getSecretName(),
              keys(v.getSecret().getItems())));
        }
        if (v.getProjected() != null) {
          for (VolumeProjection p : list(v.getProjected().getSources())) {
            if (p.getSecret() != null) {
              violations.addAll(secretKeys(where, p.getSecret().getName(),
                  keys(p.getSecret().getItems())));
            }
            if (p.getConfigMap() != null && manifests.configMap(p.getConfigMap().getName())
                .isEmpty()) {
              violations.add(where + ": config map " + p.getConfigMap().getName());
            }
          }
        }
      }
      for (Container c : containers(pod)) {
        for (EnvFromSource from : list(c.getEnvFrom())) {
          if (from.getConfigMapRef() != null
              && manifests.configMap(from.getConfigMapRef().getName()).isEmpty()) {
            violations.add(where + ": config map " + from.getConfigMapRef().getName());
          }
          if (from.getSecretRef() != null) {
            violations.addAll(secretKeys(where, from.getSecretRef().getName(), List.of()));
          }
        }
        for (EnvVar e : list(c.getEnv())) {
          if (e.getValueFrom() != null && e.getValueFrom().getConfigMapKeyRef() != null) {
            var ref = e.getValueFrom().getConfigMapKeyRef();
            if (!manifests.configMap(ref.getName()).map(m -> m.containsKey(ref.getKey()))
                .orElse(false)) {
              violations.add(where + ": " + e.getName() + " from config map " + ref.getName());
            }
          }
          if (e.getValueFrom() != null && e.getValueFrom().getSecretKeyRef() != null) {
            var ref = e.getValueFrom().getSecretKeyRef();
            violations.addAll(secretKeys(where, ref.getName(), List.of(ref.getKey())));
          }
        }
      }
    }
    assertThat(violations).isEmpty();
  }

  @Test
  void secretTemplate_marksEveryValueToReplace() {
    Secret secret = manifests.of(Secret.class).stream()
        .filter(s -> s.getMetadata().getName().equals("outpost-agent-credentials")).findFirst()
        .orElseThrow();
    assertThat(secret.getData()).as("no real value in data").isNullOrEmpty();
    assertThat(secret.getStringData()).containsOnlyKeys("org-key", "ca.pem")
        .allSatisfy((key, value) -> assertThat(value).contains("REPLACE_ME"));
    assertThat(secret.getStringData().get("org-key")).startsWith("opk_");
  }

  // ---- the agent Deployment's neighbours -----------------------------------------------------

  @Test
  void networkPolicy_letsOutOnlyDnsAndTheControlPlaneAndInOnlyTheOpsPort() {
    Deployment d = agentDeployment(manifests.docs());
    PodTemplateSpec template = d.getSpec().getTemplate();
    Map<String, String> env = env(agentContainer(template.getSpec()).orElseThrow(), manifests);
    int controlPlanePort = port(env.get("OUTPOST_CONTROL_PLANE"));
    int opsPort = port(env.get("OUTPOST_OPS_ADDRESS"));
    NetworkPolicy policy = manifests.of(NetworkPolicy.class).stream()
        .filter(p -> selects(p.getSpec().getPodSelector(), template)).findFirst()
        .orElseThrow(() -> new AssertionError("no NetworkPolicy selects " + where(d)));
    var spec = policy.getSpec();

    assertThat(spec.getPolicyTypes()).containsExactlyInAnyOrder("Ingress", "Egress");
    assertThat(spec.getEgress()).allSatisfy(rule -> {
      assertThat(rule.getTo()).as("an egress rule without `to` allows every destination")
          .isNotEmpty();
      assertThat(rule.getPorts()).as("an egress rule without ports allows every port")
          .isNotEmpty();
    });
    assertThat(spec.getEgress()).as("DNS over UDP and TCP to kube-dns").anySatisfy(rule -> {
      assertThat(rule.getPorts()).extracting(KubernetesManifestsTest::portProtocol)
          .contains("53/UDP", "53/TCP");
      assertThat(rule.getTo()).allSatisfy(peer -> {
        assertThat(peer.getNamespaceSelector().getMatchLabels())
            .containsEntry("kubernetes.io/metadata.name", "kube-system");
        assertThat(peer.getPodSelector().getMatchLabels()).containsKey("k8s-app");
      });
    });
    assertThat(spec.getEgress()).as("the control plane's port to an address range")
        .anySatisfy(rule -> {
          assertThat(rule.getPorts()).extracting(KubernetesManifestsTest::portProtocol)
              .containsExactly(controlPlanePort + "/TCP");
          assertThat(rule.getTo()).allSatisfy(peer -> assertThat(peer.getIpBlock()).isNotNull());
        });
    assertThat(spec.getIngress()).isNotEmpty().allSatisfy(rule -> {
      assertThat(rule.getFrom()).as("an ingress rule without `from` admits anyone").isNotEmpty();
      assertThat(rule.getPorts()).extracting(KubernetesManifestsTest::portProtocol)
          .containsExactly(opsPort + "/TCP");
    });
    // A peer with an empty selector matches everything: every peer must say something.
    Stream.concat(spec.getEgress().stream().flatMap(r -> r.getTo().stream()),
        spec.getIngress().stream().flatMap(r -> r.getFrom().stream())).forEach(peer ->
        assertThat(peer.getIpBlock() != null || hasLabels(peer.getNamespaceSelector()))
            .as("peer %s names an address range or a namespace", peer).isTrue());
  }

  @Test
  void disruptionBudget_andRollout_takeOneAgentAtATime() {
    Deployment d = agentDeployment(manifests.docs());
    int replicas = d.getSpec().getReplicas();
    PodDisruptionBudget pdb = manifests.of(PodDisruptionBudget.class).stream()
        .filter(p -> selects(p.getSpec().getSelector(), d.getSpec().getTemplate())).findFirst()
        .orElseThrow(() -> new AssertionError("no PodDisruptionBudget selects " + where(d)));

    assertThat(replicas).isGreaterThanOrEqualTo(2);
    assertThat(selects(d.getSpec().getSelector(), d.getSpec().getTemplate())).isTrue();
    IntOrString max = pdb.getSpec().getMaxUnavailable();
    IntOrString min = pdb.getSpec().getMinAvailable();
    assertThat(max == null ^ min == null).as("exactly one of maxUnavailable, minAvailable")
        .isTrue();
    if (max != null) {
      assertThat(max.getIntVal()).isEqualTo(1);
    } else {
      assertThat(min.getIntVal()).isBetween(1, replicas - 1);
    }
    var rolling = d.getSpec().getStrategy().getRollingUpdate();
    assertThat(d.getSpec().getStrategy().getType()).isEqualTo("RollingUpdate");
    assertThat(rolling.getMaxUnavailable().getIntVal()).isEqualTo(1);
    assertThat(rolling.getMaxSurge().getIntVal()).isZero();
  }

  // ---- cert-manager ------------------------------------------------------------------------

  /** The fields of cert-manager.io/v1 Certificate, as cert-manager's API reference lists them. */
  private static final Set<String> CERTIFICATE_SPEC = Set.of("additionalOutputFormats",
      "commonName", "dnsNames", "duration", "emailAddresses", "encodeUsagesInRequest",
      "ipAddresses", "isCA", "issuerRef", "keystores", "literalSubject", "nameConstraints",
      "otherNames", "privateKey", "renewBefore", "renewBeforePercentage",
      "revisionHistoryLimit", "secretName", "secretTemplate", "signatureAlgorithm", "subject",
      "uris", "usages");
  private static final Set<String> PRIVATE_KEY = Set.of("algorithm", "encoding", "rotationPolicy",
      "size");
  private static final Set<String> ISSUER_REF = Set.of("name", "kind", "group");
  private static final Set<String> SECRET_TEMPLATE = Set.of("annotations", "labels");
  private static final Set<String> KEY_USAGES = Set.of("signing", "digital signature",
      "content commitment", "key encipherment", "key agreement", "data encipherment",
      "cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth",
      "client auth", "code signing", "email protection", "s/mime", "ipsec end system",
      "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing", "microsoft sgc",
      "netscape sgc");
  private static final Pattern AGENT_URI =
      Pattern.compile("spiffe://[^/]+/org/[a-zA-Z0-9_-]+/agent/([A-Za-z0-9._-]{1,64})");

  @Test
  @SuppressWarnings("unchecked")
  void certificate_usesOnlyDocumentedFields_andIssuesAClientCertificate() {
    GenericKubernetesResource cert = manifests.of(GenericKubernetesResource.class).stream()
        .filter(r -> r.getKind().equals("Certificate")).findFirst().orElseThrow();
    assertThat(cert.getAdditionalProperties()).containsOnlyKeys("spec");
    Map<String, Object> spec = (Map<String, Object>) cert.getAdditionalProperties().get("spec");
    Map<String, Object> key = (Map<String, Object>) spec.get("privateKey");
    Map<String, Object> issuer = (Map<String, Object>) spec.get("issuerRef");

    assertThat(spec.keySet()).isSubsetOf(CERTIFICATE_SPEC);
    assertThat(key.keySet()).isSubsetOf(PRIVATE_KEY);
    assertThat(issuer.keySet()).isSubsetOf(ISSUER_REF);
    assertThat(((Map<String, Object>) spec.getOrDefault("secretTemplate", Map.of())).keySet())
        .isSubsetOf(SECRET_TEMPLATE);

    assertThat(spec).containsEntry("secretName", "outpost-agent-tls");
    assertThat((List<String>) spec.get("usages")).isSubsetOf(KEY_USAGES)
        .contains("client auth", "digital signature", "key encipherment");
    assertThat(key).containsEntry("algorithm", "ECDSA").containsEntry("size", 256)
        .containsEntry("rotationPolicy", "Always");
    assertThat(key.get("encoding")).isIn(null, "PKCS1", "PKCS8");
    assertThat(issuer.get("name")).isInstanceOf(String.class);
    assertThat(issuer.get("kind")).isIn(null, "Issuer", "ClusterIssuer");
    Duration duration = goDuration((String) spec.get("duration"));
    Duration renewBefore = goDuration((String) spec.get("renewBefore"));
    assertThat(duration).isGreaterThanOrEqualTo(Duration.ofHours(1)).isGreaterThan(renewBefore);
    // The control plane's agent name: from the URI SAN, else from the common name.
    for (Object uri : (List<Object>) spec.getOrDefault("uris", List.of())) {
      Matcher m = AGENT_URI.matcher((String) uri);
      assertThat(m.matches()).as("%s names org and agent", uri).isTrue();
      assertThat(m.group(1)).isEqualTo(spec.get("commonName"));
    }
    assertThat(cert.getMetadata().getNamespace()).isEqualTo(
        agentDeployment(manifests.docs()).getMetadata().getNamespace());
  }

  // ---- rules ---------------------------------------------------------------------------------

  /** Rules for every pod and every container, agent or not. */
  static List<String> podViolations(Deployment d) {
    List<String> out = new ArrayList<>();
    String where = where(d);
    PodSpec pod = d.getSpec().getTemplate().getSpec();
    Map<String, Boolean> hostAccess = new LinkedHashMap<>();
    hostAccess.put("hostNetwork", pod.getHostNetwork());
    hostAccess.put("hostPID", pod.getHostPID());
    hostAccess.put("hostIPC", pod.getHostIPC());
    hostAccess.put("shareProcessNamespace", pod.getShareProcessNamespace());
    hostAccess.forEach((flag, value) -> {
      if (Boolean.TRUE.equals(value)) {
        out.add(where + ": " + flag);
      }
    });
    if (!Boolean.FALSE.equals(pod.getAutomountServiceAccountToken())) {
      out.add(where + ": mounts a service account token");
    }
    Set<String> volumes = new HashSet<>();
    for (Volume v : pod.getVolumes()) {
      volumes.add(v.getName());
      if (v.getHostPath() != null) {
        out.add(where + ": hostPath volume " + v.getName());
      }
    }
    var podContext = pod.getSecurityContext();
    for (Container c : containers(pod)) {
      String at = where + " container " + c.getName();
      for (VolumeMount m : list(c.getVolumeMounts())) {
        if (!volumes.contains(m.getName())) {
          out.add(at + ": mounts undeclared volume " + m.getName());
        }
      }
      SecurityContext sc = Objects.requireNonNullElseGet(c.getSecurityContext(),
          SecurityContext::new);
      Boolean nonRoot = sc.getRunAsNonRoot() != null ? sc.getRunAsNonRoot()
          : podContext == null ? null : podContext.getRunAsNonRoot();
      Long user = sc.getRunAsUser() != null ? sc.getRunAsUser()
          : podContext == null ? null : podContext.getRunAsUser();
      if (!Boolean.TRUE.equals(nonRoot) || user == null || user == 0) {
        out.add(at + ": runs as root or an unnamed user (runAsNonRoot " + nonRoot
            + ", runAsUser " + user + ")");
      }
      if (Boolean.TRUE.equals(sc.getPrivileged())) {
        out.add(at + ": privileged");
      }
      if (!Boolean.FALSE.equals(sc.getAllowPrivilegeEscalation())) {
        out.add(at + ": allowPrivilegeEscalation is not false");
      }
      if (!Boolean.TRUE.equals(sc.getReadOnlyRootFilesystem())) {
        out.add(at + ": readOnlyRootFilesystem is not true");
      }
      var caps = sc.getCapabilities();
      if (caps == null || !list(caps.getDrop()).contains("ALL")) {
        out.add(at + ": does not drop ALL capabilities");
      }
      if (caps != null && !list(caps.getAdd()).isEmpty()) {
        out.add(at + ": adds capabilities " + caps.getAdd());
      }
    }
    return out;
  }

  /** Rules for the agent's container, from the README's "Sandbox" and "Stopping the agent". */
  static List<String> agentViolations(Deployment d, Manifests m) {
    List<String> out = new ArrayList<>();
    PodTemplateSpec template = d.getSpec().getTemplate();
    PodSpec pod = template.getSpec();
    Optional<Container> found = agentContainer(pod);
    if (found.isEmpty()) {
      return List.of(where(d) + ": no outpost-agent container");
    }
    Container agent = found.get();
    String at = where(d) + " container " + agent.getName();
    Map<String, String> env = env(agent, m);

    if (!Boolean.FALSE.equals(pod.getHostUsers())) {
      out.add(at + ": hostUsers must be false (a user namespace for procMount Unmasked)");
    }
    SecurityContext sc = Objects.requireNonNullElseGet(agent.getSecurityContext(),
        SecurityContext::new);
    String seccomp = sc.getSeccompProfile() == null ? null : sc.getSeccompProfile().getType();
    String apparmor = sc.getAppArmorProfile() == null ? null : sc.getAppArmorProfile().getType();
    if (!Set.of("Unconfined", "Localhost").contains(Objects.toString(seccomp))) {
      out.add(at + ": seccompProfile " + seccomp + " forbids bubblewrap's namespaces");
    }
    if (!Set.of("Unconfined", "Localhost").contains(Objects.toString(apparmor))) {
      out.add(at + ": appArmorProfile " + apparmor + " forbids bubblewrap's mounts");
    }
    if (!"Unmasked".equals(sc.getProcMount())) {
      out.add(at + ": procMount " + sc.getProcMount() + ": bubblewrap cannot mount /proc");
    }
    if (agent.getResources() == null || agent.getResources().getLimits() == null
        || !agent.getResources().getLimits().containsKey("memory")) {
      out.add(at + ": no memory limit (jobs run inside the pod)");
    }

    // Probes and scraping: on the ops port, which must listen beyond loopback.
    String ops = env.getOrDefault("OUTPOST_OPS_ADDRESS", "127.0.0.1:9464");
    String opsHost = ops.substring(0, ops.lastIndexOf(':'));
    int opsPort = port(ops);
    if (Set.of("127.0.0.1", "localhost", "[::1]", "none").contains(opsHost) || opsPort == 0) {
      out.add(at + ": OUTPOST_OPS_ADDRESS " + ops + " cannot be probed by the kubelet");
    }
    Map<String, Probe> probes = new LinkedHashMap<>();
    probes.put("startupProbe", agent.getStartupProbe());
    probes.put("livenessProbe", agent.getLivenessProbe());
    probes.put("readinessProbe", agent.getReadinessProbe());
    Map<String, String> expectedPath = Map.of("startupProbe", "/healthz",
        "livenessProbe", "/healthz", "readinessProbe", "/readyz");
    probes.forEach((kind, probe) -> {
      if (probe == null || probe.getHttpGet() == null) {
        out.add(at + ": no HTTP " + kind);
        return;
      }
      String path = probe.getHttpGet().getPath();
      if (!PROBE_PATHS.contains(path) || !path.equals(expectedPath.get(kind))) {
        out.add(at + ": " + kind + " path " + path + ", want " + expectedPath.get(kind));
      }
      Integer port = resolvePort(probe.getHttpGet().getPort(), agent);
      if (!Objects.equals(port, opsPort)) {
        out.add(at + ": " + kind + " port " + port + " is not the ops port " + opsPort);
      }
    });
    Map<String, String> annotations =
        Objects.requireNonNullElse(template.getMetadata().getAnnotations(), Map.of());
    if (!"true".equals(annotations.get("prometheus.io/scrape"))
        || !String.valueOf(opsPort).equals(annotations.get("prometheus.io/port"))
        || !"/metrics".equals(annotations.get("prometheus.io/path"))) {
      out.add(at + ": prometheus.io annotations do not name /metrics on port " + opsPort);
    }

    // Stopping: the drain, then the cancel grace, then delivery must fit the grace period.
    Duration drain = duration(env, "OUTPOST_DRAIN_TIMEOUT", DEFAULT_DRAIN);
    Duration cancel = duration(env, "OUTPOST_CANCEL_GRACE", DEFAULT_CANCEL_GRACE);
    Duration needed = drain.plus(cancel).plus(DELIVERY_MARGIN);
    long grace = Objects.requireNonNullElse(pod.getTerminationGracePeriodSeconds(), 30L);
    if (grace < needed.toSeconds()) {
      out.add(at + ": terminationGracePeriodSeconds " + grace + " < drain " + drain
          + " + cancel grace " + cancel + " + delivery " + DELIVERY_MARGIN);
    }

    // Files and directories: credentials read-only from a Secret, state and work writable.
    Map<String, Volume> volumes = new HashMap<>();
    pod.getVolumes().forEach(v -> volumes.put(v.getName(), v));
    for (String setting : List.of("OUTPOST_CONTROL_PLANE", "OUTPOST_CA",
        "OUTPOST_ORG_KEY_FILE")) {
      if (env.get(setting) == null) {
        out.add(at + ": " + setting + " is not set");
      }
    }
    for (String setting : CREDENTIAL_SETTINGS) {
      String file = env.get(setting);
      if (file == null) {
        continue;
      }
      Optional<VolumeMount> mount = mountOf(agent, file);
      if (!file.startsWith("/etc/outpost/") || mount.isEmpty()
          || !Boolean.TRUE.equals(mount.get().getReadOnly())) {
        out.add(at + ": " + setting + " " + file
            + " is not on a read-only mount under /etc/outpost (hidden from jobs)");
        continue;
      }
      Volume credentials = volumes.get(mount.get().getName());
      Integer mode = credentials == null ? null : credentials.getProjected() != null
          ? credentials.getProjected().getDefaultMode()
          : credentials.getSecret() != null ? credentials.getSecret().getDefaultMode() : null;
      if (mode == null || (mode & 07) != 0) {
        out.add(at + ": " + setting + " " + file + " is readable by every user (mode "
            + (mode == null ? "default 0644" : "0" + Integer.toOctalString(mode)) + ")");
      }
      String relative = file.substring(mount.get().getMountPath().length() + 1);
      if (!secretFiles(volumes.get(mount.get().getName())).contains(relative)) {
        out.add(at + ": " + setting + " " + file + " is not a file of a Secret in "
            + mount.get().getName());
      }
    }
    for (String setting : List.of("OUTPOST_STATE_DIR", "OUTPOST_WORK_DIR")) {
      String dir = env.get(setting);
      Optional<VolumeMount> mount = dir == null ? Optional.empty() : mountOf(agent, dir);
      Volume v = mount.map(mm -> volumes.get(mm.getName())).orElse(null);
      if (v == null || Boolean.TRUE.equals(mount.get().getReadOnly())
          || (v.getEmptyDir() == null && v.getPersistentVolumeClaim() == null)) {
        out.add(at + ": " + setting + " " + dir + " is not on a writable volume");
      } else if (v.getEmptyDir() != null && v.getEmptyDir().getSizeLimit() == null) {
        out.add(at + ": " + setting + " on an emptyDir without sizeLimit");
      }
    }
    String state = env.get("OUTPOST_STATE_DIR");
    String work = env.get("OUTPOST_WORK_DIR");
    if (state != null && work != null && (within(state, work) || within(work, state))) {
      out.add(at + ": OUTPOST_STATE_DIR and OUTPOST_WORK_DIR contain one another");
    }
    if (mountOf(agent, "/tmp/x").isEmpty()) {
      out.add(at + ": no writable /tmp on a read-only root file system");
    }
    // A volume starts empty and hides what the image has at its path: the JVM's temporary
    // directory must be a volume of its own, not a directory the image made under one.
    jvmTmpDir().ifPresent(tmp -> {
      boolean own = list(agent.getVolumeMounts()).stream().anyMatch(vm ->
          vm.getMountPath().equals(tmp) && !Boolean.TRUE.equals(vm.getReadOnly()));
      if (!own && mountOf(agent, tmp).isPresent()) {
        out.add(at + ": java.io.tmpdir " + tmp + " lies in a volume that hides it");
      }
    });
    // Another container of the pod must not see the agent's keys, state or jobs.
    Set<String> agentVolumes = new HashSet<>();
    list(agent.getVolumeMounts()).forEach(vm -> agentVolumes.add(vm.getName()));
    for (Container other : containers(pod)) {
      if (other != agent) {
        list(other.getVolumeMounts()).stream().filter(vm -> agentVolumes.contains(vm.getName()))
            .forEach(vm -> out.add(at + ": container " + other.getName()
                + " also mounts " + vm.getName()));
      }
    }
    return out;
  }

  // ---- helpers -------------------------------------------------------------------------------

  record Doc(String where, Object resource) {}

  record Manifests(List<Doc> docs) {
    <T> List<T> of(Class<T> type) {
      return docs.stream().map(Doc::resource).filter(type::isInstance).map(type::cast).toList();
    }

    List<Deployment> deployments() {
      return of(Deployment.class);
    }

    Optional<Map<String, String>> configMap(String name) {
      return of(ConfigMap.class).stream().filter(c -> c.getMetadata().getName().equals(name))
          .findFirst().map(c -> Objects.requireNonNullElse(c.getData(), Map.of()));
    }
  }

  static List<Doc> parse(String file, String yaml) throws IOException {
    List<Doc> docs = new ArrayList<>();
    try (MappingIterator<Object> it = YAML.readerFor(Object.class).readValues(yaml)) {
      int index = 0;
      while (it.hasNextValue()) {
        Object tree = it.nextValue();
        index++;
        if (tree == null) {
          continue;
        }
        if (!(tree instanceof Map<?, ?> map)) {
          throw new IllegalArgumentException(file + " document " + index + " is not a mapping");
        }
        String type = map.get("apiVersion") + "/" + map.get("kind");
        Class<?> model = KINDS.get(type);
        if (model == null) {
          throw new IllegalArgumentException(file + " document " + index + ": " + type
              + " is not one of " + KINDS.keySet());
        }
        HasMetadata resource = (HasMetadata) MODEL.convertValue(map, model);
        docs.add(new Doc(file + "#" + index + " " + resource.getKind() + "/"
            + resource.getMetadata().getName(), resource));
      }
    }
    return docs;
  }

  /**
   * fabric8 keeps a field it does not know in the object's additional properties instead of
   * failing; returns the path of every such field, in the manifest's own terms.
   */
  static List<String> unknownFields(Object root, String path) {
    List<String> out = new ArrayList<>();
    walk(root, path, out);
    return out;
  }

  private static void walk(Object node, String path, List<String> out) {
    if (node instanceof Collection<?> items) {
      int i = 0;
      for (Object item : items) {
        walk(item, path + "[" + i++ + "]", out);
      }
      return;
    }
    if (node instanceof Map<?, ?> map) {
      map.forEach((k, v) -> walk(v, join(path, String.valueOf(k)), out));
      return;
    }
    if (node == null || !node.getClass().getName().startsWith("io.fabric8.")) {
      return;
    }
    for (Method getter : node.getClass().getMethods()) {
      if (Modifier.isStatic(getter.getModifiers()) || getter.getParameterCount() != 0
          || !getter.getName().startsWith("get")) {
        continue;
      }
      Class<?> type = getter.getReturnType();
      boolean model = type.getName().startsWith("io.fabric8.")
          || Collection.class.isAssignableFrom(type) || Map.class.isAssignableFrom(type);
      if (!model) {
        continue;
      }
      Object value = invoke(getter, node);
      if (getter.getName().equals("getAdditionalProperties")) {
        ((Map<?, ?>) Objects.requireNonNullElse(value, Map.of()))
            .keySet().forEach(k -> out.add(join(path, String.valueOf(k))));
      } else {
        String name = getter.getName().substring(3);
        walk(value, join(path, Character.toLowerCase(name.charAt(0)) + name.substring(1)), out);
      }
    }
  }

  private static Object invoke(Method getter, Object target) {
    try {
      return getter.invoke(target);
    } catch (IllegalAccessException | InvocationTargetException e) {
      throw new IllegalStateException(getter + " on " + target.getClass(), e);
    }
  }

  private static String join(String path, String name) {
    return path.isEmpty() ? name : path + "." + name;
  }

  private static String where(Deployment d) {
    return manifests == null ? "Deployment/" + d.getMetadata().getName()
        : manifests.docs().stream().filter(doc -> doc.resource() == d).map(Doc::where)
            .findFirst().orElse("Deployment/" + d.getMetadata().getName());
  }

  private static Deployment agentDeployment(List<Doc> docs) {
    return docs.stream().map(Doc::resource).filter(Deployment.class::isInstance)
        .map(Deployment.class::cast)
        .filter(d -> d.getMetadata().getName().equals("outpost-agent")).findFirst()
        .orElseThrow();
  }

  /** The agent is the container running the outpost-agent image, wherever it is pulled from. */
  static Optional<Container> agentContainer(PodSpec pod) {
    return containers(pod).stream().filter(c -> {
      String image = c.getImage().substring(c.getImage().lastIndexOf('/') + 1);
      return image.startsWith("outpost-agent:") || image.startsWith("outpost-agent@");
    }).findFirst();
  }

  private static List<Container> containers(PodSpec pod) {
    List<Container> all = new ArrayList<>(list(pod.getInitContainers()));
    all.addAll(list(pod.getContainers()));
    return all;
  }

  /** The container's environment as the kubelet builds it: envFrom first, then env. */
  static Map<String, String> env(Container c, Manifests m) {
    Map<String, String> env = new HashMap<>();
    for (EnvFromSource from : list(c.getEnvFrom())) {
      if (from.getConfigMapRef() != null) {
        String prefix = Objects.requireNonNullElse(from.getPrefix(), "");
        m.configMap(from.getConfigMapRef().getName())
            .ifPresent(data -> data.forEach((k, v) -> env.put(prefix + k, v)));
      }
    }
    for (EnvVar e : list(c.getEnv())) {
      if (e.getValue() != null) {
        env.put(e.getName(), e.getValue());
      } else if (e.getValueFrom() != null && e.getValueFrom().getConfigMapKeyRef() != null) {
        var ref = e.getValueFrom().getConfigMapKeyRef();
        m.configMap(ref.getName()).map(data -> data.get(ref.getKey()))
            .ifPresent(v -> env.put(e.getName(), v));
      }
    }
    return env;
  }

  /** The image's java.io.tmpdir, from the JVM options its build copies in. */
  private static Optional<String> jvmTmpDir() {
    Path options = DIR.resolveSibling("container").resolve("jvm.options");
    try {
      return Files.exists(options) ? Files.readAllLines(options).stream()
          .filter(l -> l.startsWith("-Djava.io.tmpdir=")).map(l -> l.substring(17).trim())
          .findFirst() : Optional.empty();
    } catch (IOException e) {
      throw new IllegalStateException(options.toString(), e);
    }
  }

  private static Duration duration(Map<String, String> env, String name, Duration fallback) {
    return env.containsKey(name) ? Duration.parse(env.get(name)) : fallback;
  }

  private static int port(String hostPort) {
    return Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
  }

  private static Integer resolvePort(IntOrString port, Container c) {
    if (port == null || port.getIntVal() != null) {
      return port == null ? null : port.getIntVal();
    }
    return list(c.getPorts()).stream().filter(p -> port.getStrVal().equals(p.getName()))
        .map(p -> p.getContainerPort()).findFirst().orElse(null);
  }

  private static String portProtocol(NetworkPolicyPort p) {
    return resolvePortNumber(p.getPort()) + "/" + Objects.requireNonNullElse(p.getProtocol(),
        "TCP");
  }

  private static String resolvePortNumber(IntOrString port) {
    return port == null ? "any" : port.getIntVal() != null ? port.getIntVal().toString()
        : port.getStrVal();
  }

  /** The mount holding a path: the longest mount path that is the path or a parent of it. */
  private static Optional<VolumeMount> mountOf(Container c, String path) {
    return list(c.getVolumeMounts()).stream().filter(m -> within(path, m.getMountPath()))
        .max((a, b) -> Integer.compare(a.getMountPath().length(), b.getMountPath().length()));
  }

  private static boolean within(String path, String dir) {
    String d = dir.endsWith("/") ? dir : dir + "/";
    return path.equals(dir) || path.startsWith(d);
  }

  /** The files a secret or projected volume shows, each from a Secret. */
  private static Set<String> secretFiles(Volume v) {
    Set<String> files = new HashSet<>();
    if (v == null) {
      return files;
    }
    if (v.getSecret() != null) {
      list(v.getSecret().getItems()).forEach(i -> files.add(i.getPath()));
      if (list(v.getSecret().getItems()).isEmpty()) {
        files.addAll(secretKeysOf(v.getSecret().getSecretName()));
      }
    }
    if (v.getProjected() != null) {
      for (VolumeProjection p : list(v.getProjected().getSources())) {
        if (p.getSecret() != null) {
          list(p.getSecret().getItems()).forEach(i -> files.add(i.getPath()));
          if (list(p.getSecret().getItems()).isEmpty()) {
            files.addAll(secretKeysOf(p.getSecret().getName()));
          }
        }
      }
    }
    return files;
  }

  /** A Secret's keys: declared in the manifests, or written by cert-manager for a Certificate. */
  private static Set<String> secretKeysOf(String name) {
    for (Secret s : manifests.of(Secret.class)) {
      if (s.getMetadata().getName().equals(name)) {
        Set<String> keys = new HashSet<>();
        keys.addAll(Objects.requireNonNullElse(s.getData(), Map.<String, String>of()).keySet());
        keys.addAll(Objects.requireNonNullElse(s.getStringData(), Map.<String, String>of())
            .keySet());
        return keys;
      }
    }
    boolean issued = manifests.of(GenericKubernetesResource.class).stream()
        .filter(r -> r.getKind().equals("Certificate"))
        .anyMatch(r -> name.equals(r.<Object>get("spec", "secretName")));
    return issued ? CERT_MANAGER_KEYS : Set.of();
  }

  private static List<String> secretKeys(String where, String name, List<String> used) {
    Set<String> keys = secretKeysOf(name);
    if (keys.isEmpty()) {
      return List.of(where + ": Secret " + name + " is neither declared nor issued");
    }
    return used.stream().filter(k -> !keys.contains(k))
        .map(k -> where + ": Secret " + name + " has no key " + k).toList();
  }

  private static List<String> keys(List<KeyToPath> items) {
    return list(items).stream().map(KeyToPath::getKey).toList();
  }

  private static boolean selects(LabelSelector selector, PodTemplateSpec template) {
    Map<String, String> labels = template.getMetadata().getLabels();
    return selector != null && selector.getMatchLabels() != null
        && !selector.getMatchLabels().isEmpty()
        && list(selector.getMatchExpressions()).isEmpty()
        && labels.entrySet().containsAll(selector.getMatchLabels().entrySet());
  }

  private static boolean hasLabels(LabelSelector selector) {
    return selector != null && ((selector.getMatchLabels() != null
        && !selector.getMatchLabels().isEmpty()) || !list(selector.getMatchExpressions())
        .isEmpty());
  }

  private static Set<String> names(List<? extends HasMetadata> resources) {
    Set<String> names = new HashSet<>();
    resources.forEach(r -> names.add(r.getMetadata().getName()));
    return names;
  }

  /** cert-manager durations are Go durations; these manifests use hours and minutes. */
  private static Duration goDuration(String text) {
    Matcher m = Pattern.compile("(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?").matcher(text);
    assertThat(m.matches() && !text.isEmpty()).as("Go duration %s", text).isTrue();
    Function<Integer, Long> part = g -> m.group(g) == null ? 0 : Long.parseLong(m.group(g));
    return Duration.ofHours(part.apply(1)).plusMinutes(part.apply(2)).plusSeconds(part.apply(3));
  }

  private static <T> List<T> list(List<T> maybe) {
    return maybe == null ? List.of() : maybe;
  }
}

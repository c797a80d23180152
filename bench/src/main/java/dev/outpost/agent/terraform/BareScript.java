package dev.outpost.agent.terraform;

import dev.outpost.agent.sandbox.Confinement;
import dev.outpost.agent.sandbox.ScriptSandbox;
import dev.outpost.agent.workspace.JobDirectory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The floor of the overhead benchmark: a shell script that runs, in a job directory of its own
 * and under the same bubblewrap arguments, exactly the Terraform commands the agent runs for a
 * job, built by the agent's own {@link Terraform} with a {@link ScriptSandbox} in place of the
 * real one. An apply job is init, plan -out (with -detailed-exitcode) and apply of that plan
 * (the agent reads outputs and resources from the state file itself); a plan job is init,
 * plan -out and show -json of the plan.
 */
public final class BareScript {
  private BareScript() {}

  /**
   * Writes the job directory (a copy of {@code source}, no variables) and its script, which is
   * returned; run it with bash.
   */
  public static Path write(Path workDir, String name, Path source, boolean apply, Path binary,
      List<Path> mirrors, ProviderCache cacheOrNull, Confinement confinement,
      Map<String, String> passEnv) throws IOException {
    JobDirectory dir = JobDirectory.create(workDir, name);
    try (Stream<Path> files = Files.walk(source)) {
      files.forEach(f -> {
        try {
          Path target = dir.sourceDir().resolve(source.relativize(f).toString());
          if (Files.isDirectory(f)) {
            Files.createDirectories(target);
          } else {
            Files.copy(f, target);
          }
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    }
    Path varFile = dir.writeVariables(Map.of());
    Map<String, String> env = TerraformEnvironment.forJob(dir.root()).providerMirrors(mirrors)
        .passThrough(passEnv.keySet(), passEnv).build();
    ScriptSandbox sandbox = new ScriptSandbox();
    Terraform tf = new Terraform(binary, dir.sourceDir(), dir.root(), sandbox, env, true)
        .withProviders(cacheOrNull, mirrors).confined(confinement);
    Path plan = dir.controlDir().resolve("outpost.tfplan");
    tf.init(InitOptions.defaults()).exitCode(); // releases the provider cache lock at once
    if (apply) {
      tf.plan(new PlanOptions(plan, false, true).withVarFile(varFile));
      tf.apply(ApplyOptions.ofPlan(plan));
    } else {
      tf.plan(PlanOptions.to(plan).withVarFile(varFile));
      tf.showJson(plan, dir.controlDir().resolve("outpost.tfplan.json"));
    }
    Path script = dir.root().resolve("bare.sh");
    Files.writeString(script, sandbox.script());
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
    return script;
  }
}

package dev.outpost.agent.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.spi.ContextAwareBase;
import org.slf4j.Logger;

/**
 * The agent's built-in logging configuration, made in code: human text on stderr at the level
 * of {@code outpost.log.level} (set by {@link Logging}), else {@code OUTPOST_LOG_LEVEL}, else
 * INFO; gRPC and Netty at WARN. Logback's XML configurator (its parser, its model classes and
 * the JDK's XML parser: some 600 classes) is thereby not loaded at each start. A file named by
 * {@code -Dlogback.configurationFile}, or a {@code logback-test.xml} on the class path, is left
 * to logback's own configurators, as logback would read it.
 */
public final class LogConfigurator extends ContextAwareBase implements Configurator {
  static final String PATTERN =
      "%d{HH:mm:ss.SSS} %-5level %logger{0}%replace( [%X{job}]){' \\[\\]', ''} - %msg%n";

  @Override
  public ExecutionStatus configure(LoggerContext context) {
    if (System.getProperty("logback.configurationFile") != null
        || LogConfigurator.class.getClassLoader().getResource("logback-test.xml") != null) {
      return ExecutionStatus.INVOKE_NEXT_IF_ANY;
    }
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(context);
    encoder.setPattern(PATTERN);
    encoder.start();
    ConsoleAppender<ILoggingEvent> human = new ConsoleAppender<>();
    human.setContext(context);
    human.setName("HUMAN");
    human.setTarget("System.err");
    human.setEncoder(encoder);
    human.start();
    context.getLogger("io.grpc").setLevel(Level.WARN);
    context.getLogger("io.netty").setLevel(Level.WARN);
    ch.qos.logback.classic.Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    String level = System.getProperty("outpost.log.level", System.getenv("OUTPOST_LOG_LEVEL"));
    root.setLevel(Level.toLevel(level, Level.INFO));
    root.addAppender(human);
    return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
  }
}

package dev.outpost.agent.cli;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.util.ContextInitializer;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.joran.spi.JoranException;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's own log: human text on a terminal, JSON lines otherwise (or as asked), at the
 * configured level. Applied at start and again on SIGHUP or when the config file changes. The
 * built-in configuration ({@link LogConfigurator}) reads the level from a system property; a
 * file named by {@code -Dlogback.configurationFile} replaces it entirely and is left as it is.
 */
final class Logging {
  private Logging() {}

  /** Applies the format (auto, human, json) and level, reading the configuration again. */
  static void apply(String format, String level) {
    System.setProperty("outpost.log.level", level.toUpperCase(Locale.ROOT));
    reload();
    boolean json = format.equals("json") || (format.equals("auto") && System.console() == null);
    if (json && System.getProperty("logback.configurationFile") == null
        && LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
      ch.qos.logback.classic.Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
      root.detachAppender("HUMAN");
      root.addAppender(jsonAppender(context));
    }
  }

  /**
   * One object per line on stderr: timestamp (epoch milliseconds), level, threadName,
   * loggerName, mdc (job: the job id where the line is about one), formattedMessage, and
   * throwable when there is one.
   */
  private static ConsoleAppender<ILoggingEvent> jsonAppender(LoggerContext context) {
    JsonEncoder encoder = new JsonEncoder();
    encoder.setContext(context);
    encoder.setWithSequenceNumber(false);
    encoder.setWithNanoseconds(false);
    encoder.setWithContext(false);
    encoder.setWithMessage(false);
    encoder.setWithArguments(false);
    encoder.setWithFormattedMessage(true);
    encoder.start();
    ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
    appender.setContext(context);
    appender.setName("JSON");
    appender.setTarget("System.err");
    appender.setEncoder(encoder);
    appender.start();
    return appender;
  }

  /** Reads the logging configuration again; a changed level applies at once. */
  static void reload() {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
      context.reset();
      try {
        new ContextInitializer(context).autoConfig();
      } catch (JoranException e) {
        System.err.println("outpost-agent: cannot read the logging configuration again: "
            + e.getMessage());
      }
    }
  }
}

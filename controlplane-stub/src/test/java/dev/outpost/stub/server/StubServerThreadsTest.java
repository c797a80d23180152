package dev.outpost.stub.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.proto.v1.CreateOrgRequest;
import dev.outpost.proto.v1.ListOrgsRequest;
import dev.outpost.stub.pki.PkiFiles;
import dev.outpost.stub.store.MemoryStore;
import dev.outpost.stub.store.Store;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A StubServer given a ThreadFactory serves its calls in threads of that factory only. */
class StubServerThreadsTest {
  @TempDir
  Path dir;

  @Test
  void callsRunInTheGivenFactorysThreads_andCloseEndsThem() throws Exception {
    Set<Thread> made = ConcurrentHashMap.newKeySet();
    AtomicInteger count = new AtomicInteger();
    ThreadFactory factory = r -> {
      Thread t = new Thread(r, "given-" + count.incrementAndGet());
      t.setDaemon(true);
      made.add(t);
      return t;
    };
    // Which thread the store is called in: the thread that serves the call.
    Set<Thread> serving = ConcurrentHashMap.newKeySet();
    MemoryStore memory = new MemoryStore();
    Store store = (Store) Proxy.newProxyInstance(Store.class.getClassLoader(),
        new Class<?>[] {Store.class}, (proxy, method, args) -> {
          serving.add(Thread.currentThread());
          try {
            return method.invoke(memory, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
    PkiFiles pki = new PkiFiles(dir.resolve("pki"));
    pki.init("Test CA", List.of("localhost", "127.0.0.1"));
    StubServer.Config config = StubServer.Config.of(new InetSocketAddress("127.0.0.1", 0),
        new InetSocketAddress("127.0.0.1", 0), pki, "admin-token",
        ControlPlane.Settings.defaults(), 1 << 20);

    StubServer server = StubServer.start(config, store, Clock.systemUTC(), factory);
    try (AdminClient admin = new AdminClient("127.0.0.1:" + server.adminAddress().getPort(),
        "admin-token")) {
      serving.clear(); // what start itself read, in the caller's thread
      admin.blocking(10).createOrg(CreateOrgRequest.newBuilder().setName("acme").build());
      assertThat(admin.blocking(10).listOrgs(ListOrgsRequest.getDefaultInstance())
          .getOrgsList()).extracting("name").containsExactly("acme");
    } finally {
      server.close();
    }

    assertThat(serving).isNotEmpty();
    assertThat(made).containsAll(serving);
    for (Thread t : made) {
      t.join(5_000);
      assertThat(t.isAlive()).as("thread %s after close", t.getName()).isFalse();
    }
  }
}

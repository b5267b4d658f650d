package io.holdfast.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.holdfast.api.HttpApi;
import io.holdfast.api.OneNode;
import io.holdfast.nats.NatsNode;
import io.holdfast.nats.NatsSettings;
import io.nats.client.Connection;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: with TLS on, NATS clients, HTTP clients and other nodes talk to a node only over TLS and
 * only with the right certificates: a NATS client that trusts the CA works as with nats-server
 * (INFO in plaintext with tls_required, then the upgrade); plaintext is refused on each
 * listener; with tls-verify a client without a certificate from the CA is refused; and between
 * nodes (Artery's tls-tcp with mutual authentication) a node with the cluster's CA joins while
 * one with another CA fails the handshake. Method: a CA and certificates made by
 * {@link CertificateAuthority}, a one-node Holdfast whose listeners take the PEM files (NATS) and
 * the PKCS#12 store (HTTPS), jnats and the JDK's clients, and two bare Pekko cluster systems.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TlsTest {
  @TempDir
  static Path dir;
  private static final char[] PASSWORD = "pw".toCharArray();
  private OneNode node;
  private String natsUrl;
  private int httpsPort;
  private SSLContext trustsCa;

  @BeforeAll
  void start() throws Exception {
    CertificateAuthority ca = CertificateAuthority.create("test CA");
    ca.writeTrust(dir, PASSWORD);
    ca.issue("node1", List.of(), dir.resolve("node1"), PASSWORD);
    ca.issue("client", List.of(), dir.resolve("client"), PASSWORD);
    CertificateAuthority other = CertificateAuthority.create("another CA");
    other.issue("intruder", List.of(), dir.resolve("intruder"), PASSWORD);
    other.writeTrust(dir.resolve("other"), PASSWORD);
    trustsCa = Tls.clientContext(dir.resolve("ca.pem"));

    node = OneNode.inTempDirectory("tls");
    SSLContext pem = Tls.serverContext(tlsConfig("""
        cert-file = "%s", key-file = "%s", ca-file = "%s"
        """.formatted(dir.resolve("node1.pem"), dir.resolve("node1-key.pem"), dir.resolve("ca.pem"))));
    NatsSettings settings = new NatsSettings(true, "127.0.0.1", 0, 1 << 20, 4096, 8 << 20, 64 << 20, 16 << 20,
        Duration.ofMinutes(2), 2);
    // With tls-verify: one NATS listener per node, and a client certificate is the stricter case.
    natsUrl = NatsNode.start(node.system, node.holdfast, settings, Users.NONE, pem, true)
        .toCompletableFuture().get(30, TimeUnit.SECONDS).url();
    SSLContext p12 = Tls.serverContext(tlsConfig("""
        key-store = "%s", key-store-password = pw
        """.formatted(dir.resolve("node1.p12"))));
    httpsPort = HttpApi.start(node.system, node.holdfast, "127.0.0.1", 0, Users.NONE, p12).toCompletableFuture()
        .get(30, TimeUnit.SECONDS).localAddress().getPort();
  }

  @AfterAll
  void stop() throws Exception {
    node.close();
  }

  private static Config tlsConfig(String keys) {
    return ConfigFactory.parseString("holdfast.tls { " + keys + " }").withFallback(ConfigFactory.load());
  }

  @Test
  void aNatsClientWithTheCasCertificateWorksOverTls() throws Exception {
    try (Connection c = Nats.connect(Options.builder().server(natsUrl).sslContext(withCertificate(dir.resolve(
        "client.p12"))).maxReconnects(0).connectionTimeout(Duration.ofSeconds(10)).build())) {
      c.jetStreamManagement().addStream(StreamConfiguration.builder().name("SECURE").subjects("secure.>")
          .storageType(StorageType.File).replicas(1).build());
      assertEquals(1, c.jetStream().publish("secure.a", "over TLS".getBytes(StandardCharsets.UTF_8)).getSeqno());
      assertEquals("over TLS", new String(c.jetStreamManagement().getMessage("SECURE", 1).getData(),
          StandardCharsets.UTF_8));
    }
  }

  @Test
  void plaintextIsRefusedOnTheNatsListener() throws Exception {
    int port = Integer.parseInt(natsUrl.substring(natsUrl.lastIndexOf(':') + 1));
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
      String info = in.readLine();
      assertTrue(info.contains("\"tls_required\":true") && info.contains("\"tls_verify\":true"), info);
      s.getOutputStream().write("CONNECT {\"verbose\":true}\r\nPING\r\n".getBytes(StandardCharsets.UTF_8));
      s.getOutputStream().flush();
      assertClosedWithoutAnswer(s.getInputStream());
    }
    // jnats without TLS refuses a server that requires it.
    assertThrows(Exception.class, () -> Nats.connect(Options.builder().server(natsUrl).maxReconnects(0)
        .connectionTimeout(Duration.ofSeconds(5)).build()));
  }

  /** The peer closes (or resets) the connection and sends no NATS line: a PONG or +OK would be a plaintext answer. */
  private static void assertClosedWithoutAnswer(InputStream in) throws IOException {
    byte[] buf = new byte[256];
    try {
      int n;
      StringBuilder got = new StringBuilder();
      while ((n = in.read(buf)) > 0) {
        got.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
      }
      assertTrue(!got.toString().contains("PONG") && !got.toString().contains("+OK"), got.toString());
    } catch (java.net.SocketException reset) {
      // closed by a reset: refused as well
    }
  }

  @Test
  void withTlsVerifyAClientWithoutTheCasCertificateIsRefused() throws Exception {
    assertThrows(Exception.class, () -> Nats.connect(Options.builder().server(natsUrl).sslContext(trustsCa)
        .maxReconnects(0).connectionTimeout(Duration.ofSeconds(5)).build()), "no client certificate");
    assertThrows(Exception.class, () -> Nats.connect(Options.builder().server(natsUrl)
        .sslContext(withCertificate(dir.resolve("intruder.p12"))).maxReconnects(0)
        .connectionTimeout(Duration.ofSeconds(5)).build()), "a certificate of another CA");
    // With the CA's client certificate it connects: aNatsClientWithTheCasCertificateWorksOverTls.
  }

  /** A client context presenting the certificate in {@code keyStore}, trusting the test CA. */
  private SSLContext withCertificate(Path keyStore) throws Exception {
    KeyStore ks = Tls.load(keyStore, PASSWORD);
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, PASSWORD);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(Tls.load(dir.resolve("ca.p12"), PASSWORD));
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return ctx;
  }

  @Test
  void theHttpApiServesHttpsAndRefusesPlaintext() throws Exception {
    HttpClient https = HttpClient.newBuilder().sslContext(trustsCa).connectTimeout(Duration.ofSeconds(10)).build();
    HttpResponse<String> r = https.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + httpsPort + "/health"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertTrue(r.body().contains("\"node\":1"), r.body());
    HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    assertThrows(IOException.class, () -> plain.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpsPort
        + "/health")).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()));
    HttpClient untrusting = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    assertThrows(javax.net.ssl.SSLException.class, () -> untrusting.send(HttpRequest.newBuilder(URI.create(
        "https://127.0.0.1:" + httpsPort + "/health")).build(), HttpResponse.BodyHandlers.ofString()),
        "a client that does not trust the CA");
  }

  @Test
  void betweenNodesOnlyANodeWithTheClustersCaIsLetIn() throws Exception {
    int portA = freePort();
    int portB = freePort();
    ActorSystem<Void> a = ActorSystem.create(Behaviors.empty(), "holdfast", artery(portA, "node1.p12", "ca.p12"));
    ActorSystem<Void> b = ActorSystem.create(Behaviors.empty(), "holdfast", artery(portB, "client.p12", "ca.p12"));
    try {
      Cluster.get(a).manager().tell(Join.create(Cluster.get(a).selfMember().address()));
      Cluster.get(b).manager().tell(Join.create(Cluster.get(a).selfMember().address()));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (Cluster.get(b).selfMember().status() != MemberStatus.up()) {
        assertTrue(System.nanoTime() < deadline, "a node with the cluster's CA did not join within 30 s");
        Thread.sleep(50); // polling membership: the cluster has no hook to join on
      }
      // A node with another CA's certificate (trusting the member's) cannot complete the TLS handshake.
      try (SSLSocket s = (SSLSocket) clientWith("intruder.p12", "ca.p12").getSocketFactory()
          .createSocket("127.0.0.1", portA)) {
        s.setSoTimeout(10_000);
        // With TLS 1.3 the server checks the client's certificate last: its refusal is the alert the
        // first read gets. Accepted, the read would wait for Artery's bytes and time out instead.
        assertThrows(javax.net.ssl.SSLException.class, () -> {
          s.startHandshake();
          s.getInputStream().read();
        });
      }
      // The same socket with the cluster's CA completes it: the refusal above is for the certificate.
      try (SSLSocket s = (SSLSocket) clientWith("client.p12", "ca.p12").getSocketFactory()
          .createSocket("127.0.0.1", portA)) {
        s.startHandshake();
        assertEquals("CN=test CA", ((java.security.cert.X509Certificate) s.getSession().getPeerCertificates()[1])
            .getSubjectX500Principal().getName());
      }
    } finally {
      b.terminate();
      a.terminate();
      b.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      a.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  private SSLContext clientWith(String keyStore, String trustStore) throws Exception {
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(Tls.load(dir.resolve(keyStore), PASSWORD), PASSWORD);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(Tls.load(dir.resolve(trustStore), PASSWORD));
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return ctx;
  }

  private Config artery(int port, String keyStore, String trustStore) {
    return ConfigFactory.parseString("""
        pekko.loglevel = ERROR
        pekko.actor.provider = cluster
        pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
        pekko.coordinated-shutdown.exit-jvm = off
        pekko.remote.artery.transport = tls-tcp
        pekko.remote.artery.canonical.hostname = "127.0.0.1"
        pekko.remote.artery.canonical.port = %d
        pekko.remote.artery.ssl.config-ssl-engine {
          key-store = "%s"
          key-store-password = pw
          key-password = pw
          trust-store = "%s"
          trust-store-password = pw
          require-mutual-authentication = on
        }
        """.formatted(port, dir.resolve(keyStore), dir.resolve(trustStore))).withFallback(ConfigFactory.load());
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}

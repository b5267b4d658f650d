package io.holdfast.security;

import com.typesafe.config.Config;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/**
 * TLS for the NATS and HTTP listeners ({@code holdfast.tls}, documented in conf/holdfast.conf):
 * the node's certificate and key from a PKCS#12 key store or PEM files, and the CAs whose client
 * certificates it trusts from a PKCS#12 trust store or a PEM file. Node-to-node traffic is Pekko
 * Artery's own TLS transport, configured under {@code pekko.remote.artery.ssl}.
 */
public final class Tls {
  private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

  private Tls() {}

  /** The listeners' TLS context from {@code holdfast.tls}; a missing or unreadable file is an {@link IllegalArgumentException}. */
  public static SSLContext serverContext(Config config) {
    Config c = config.getConfig("holdfast.tls");
    try {
      KeyStore keys;
      char[] password;
      if (!c.getString("key-store").isEmpty()) {
        password = c.getString("key-store-password").toCharArray();
        keys = load(Path.of(c.getString("key-store")), password);
      } else if (!c.getString("cert-file").isEmpty() && !c.getString("key-file").isEmpty()) {
        password = new char[0];
        keys = KeyStore.getInstance("PKCS12");
        keys.load(null, null);
        keys.setKeyEntry("node", pemKey(Path.of(c.getString("key-file"))), password,
            pemCertificates(Path.of(c.getString("cert-file"))).toArray(new Certificate[0]));
      } else {
        throw new IllegalArgumentException("TLS is on, but holdfast.tls names no key-store, nor cert-file and key-file");
      }
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keys, password);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf.getKeyManagers(), trustManagers(c), null);
      return ctx;
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("holdfast.tls: " + e.getMessage(), e);
    }
  }

  /** The CAs trusted for client certificates: the trust store, else the CA file, else the JDK's. */
  private static javax.net.ssl.TrustManager[] trustManagers(Config c) throws IOException, GeneralSecurityException {
    KeyStore trust = null;
    if (!c.getString("trust-store").isEmpty()) {
      trust = load(Path.of(c.getString("trust-store")), c.getString("trust-store-password").toCharArray());
    } else if (!c.getString("ca-file").isEmpty()) {
      trust = trustStore(pemCertificates(Path.of(c.getString("ca-file"))));
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    return tmf.getTrustManagers();
  }

  /** A client's context that trusts the CAs in {@code caFile} (PEM, or a PKCS#12 store with an empty password). */
  public static SSLContext clientContext(Path caFile) {
    try {
      KeyStore trust = caFile.toString().endsWith(".p12") ? load(caFile, new char[0])
          : trustStore(pemCertificates(caFile));
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return ctx;
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException(caFile + ": " + e.getMessage(), e);
    }
  }

  /** A server-side engine of {@code ctx}; {@code verify}: clients must present a certificate the trusted CAs signed. */
  public static SSLEngine serverEngine(SSLContext ctx, boolean verify) {
    SSLEngine engine = ctx.createSSLEngine();
    engine.setUseClientMode(false);
    engine.setEnabledProtocols(PROTOCOLS);
    if (verify) {
      engine.setNeedClientAuth(true);
    }
    return engine;
  }

  static KeyStore load(Path file, char[] password) throws IOException, GeneralSecurityException {
    if (!Files.isRegularFile(file)) {
      throw new IOException("no such file: " + file);
    }
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(file)) {
      ks.load(in, password);
    }
    return ks;
  }

  static KeyStore trustStore(List<X509Certificate> cas) throws IOException, GeneralSecurityException {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    for (int i = 0; i < cas.size(); i++) {
      ks.setCertificateEntry("ca" + i, cas.get(i));
    }
    return ks;
  }

  static List<X509Certificate> pemCertificates(Path file) throws IOException, GeneralSecurityException {
    if (!Files.isRegularFile(file)) {
      throw new IOException("no such file: " + file);
    }
    try (InputStream in = Files.newInputStream(file)) {
      Collection<? extends Certificate> all = CertificateFactory.getInstance("X.509").generateCertificates(in);
      List<X509Certificate> out = new ArrayList<>();
      all.forEach(c -> out.add((X509Certificate) c));
      if (out.isEmpty()) {
        throw new IOException(file + " holds no PEM certificate");
      }
      return out;
    }
  }

  static PrivateKey pemKey(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IOException("no such file: " + file);
    }
    try (Reader r = Files.newBufferedReader(file); PEMParser parser = new PEMParser(r)) {
      Object o = parser.readObject();
      JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
      if (o instanceof PEMKeyPair pair) {
        return converter.getPrivateKey(pair.getPrivateKeyInfo()); // PKCS#1 / SEC1
      }
      if (o instanceof PrivateKeyInfo info) {
        return converter.getPrivateKey(info); // PKCS#8
      }
      throw new IOException(file + " holds no unencrypted PEM private key");
    }
  }
}

package io.holdfast.security;

import java.io.IOException;
import java.io.OutputStream;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throwaway certificate authority for a local cluster ({@code holdfast cluster start --tls}) and
 * for tests: an EC P-256 CA, and node certificates it signs for TLS servers and clients alike
 * (Artery's mutual authentication needs both), for loopback and the names given.
 */
public final class CertificateAuthority {
  private static final Duration VALIDITY = Duration.ofDays(825);
  private final KeyPair key;
  private final X509Certificate certificate;

  private CertificateAuthority(KeyPair key, X509Certificate certificate) {
    this.key = key;
    this.certificate = certificate;
  }

  /** A new CA named {@code name}. */
  public static CertificateAuthority create(String name) {
    try {
      KeyPair key = ecKey();
      X500Name subject = new X500Name("CN=" + name);
      Instant now = Instant.now();
      JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(),
          Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(VALIDITY)), subject, key.getPublic());
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      return new CertificateAuthority(key, sign(b, key));
    } catch (GeneralSecurityException | IOException | OperatorCreationException e) {
      throw new IllegalStateException("cannot make a CA: " + e.getMessage(), e);
    }
  }

  public X509Certificate certificate() {
    return certificate;
  }

  /**
   * Signs a new key's certificate named {@code cn}, valid for localhost, 127.0.0.1 and {@code hosts}
   * (names or IP addresses), and writes it as {@code <base>.p12} (key store, password
   * {@code password}, alias {@code node}) and {@code <base>.pem} / {@code <base>-key.pem}.
   */
  public void issue(String cn, List<String> hosts, Path base, char[] password) throws IOException {
    try {
      KeyPair node = ecKey();
      Instant now = Instant.now();
      JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(certificate, serial(),
          Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(VALIDITY)), new X500Name("CN=" + cn),
          node.getPublic());
      List<GeneralName> names = new ArrayList<>(List.of(new GeneralName(GeneralName.dNSName, "localhost"),
          new GeneralName(GeneralName.iPAddress, "127.0.0.1")));
      for (String h : hosts) {
        boolean ip = h.matches("[0-9.]+|[0-9a-fA-F:]+");
        if (h.equals("127.0.0.1") || h.equals("localhost")) {
          continue;
        }
        names.add(new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, h));
      }
      b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names.toArray(new GeneralName[0])));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
      b.addExtension(Extension.extendedKeyUsage, false,
          new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
      X509Certificate cert = sign(b, key);
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setKeyEntry("node", node.getPrivate(), password, new Certificate[] {cert, certificate});
      Path dir = base.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      try (OutputStream out = Files.newOutputStream(dir.resolve(base.getFileName() + ".p12"))) {
        ks.store(out, password);
      }
      writePem(dir.resolve(base.getFileName() + ".pem"), cert, certificate);
      writePem(dir.resolve(base.getFileName() + "-key.pem"), new JcaPKCS8Generator(node.getPrivate(), null).generate());
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IOException("cannot issue a certificate for " + cn + ": " + e.getMessage(), e);
    }
  }

  /** Writes the CA's certificate as {@code ca.pem} and as a trust store {@code ca.p12} (password {@code password}). */
  public void writeTrust(Path dir, char[] password) throws IOException {
    try {
      Files.createDirectories(dir);
      writePem(dir.resolve("ca.pem"), certificate);
      KeyStore ks = Tls.trustStore(List.of(certificate));
      try (OutputStream out = Files.newOutputStream(dir.resolve("ca.p12"))) {
        ks.store(out, password);
      }
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot write the CA: " + e.getMessage(), e);
    }
  }

  private static void writePem(Path file, Object... objects) throws IOException {
    try (Writer w = Files.newBufferedWriter(file); JcaPEMWriter pem = new JcaPEMWriter(w)) {
      for (Object o : objects) {
        pem.writeObject(o);
      }
    }
  }

  private static KeyPair ecKey() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  private static BigInteger serial() {
    return new BigInteger(64, new SecureRandom()).add(BigInteger.ONE);
  }

  private static X509Certificate sign(JcaX509v3CertificateBuilder b, KeyPair signer)
      throws OperatorCreationException, GeneralSecurityException {
    ContentSigner s = new JcaContentSignerBuilder("SHA256withECDSA").build(signer.getPrivate());
    return new JcaX509CertificateConverter().getCertificate(b.build(s));
  }
}

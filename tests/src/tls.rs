//! Test certificates: a [`TestCa`] (rcgen, ring) issues node certificates for `localhost`
//! and `127.0.0.1` into certs directories laid out as a node reads them (`public.crt` with
//! the chain, `private.key`, `CAs/`), and gives clients what they trust it with: the CA's
//! PEM file (for the CLI, the mount, awscli, boto3) and a [`ClientTls`].

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SignatureAlgorithm,
};
use tessera_proto::tls::ClientTls;

/// What a test client needs to trust a TLS node: the CA file and the client settings.
#[derive(Clone, Debug)]
pub struct TlsClient {
    /// The CA certificate (PEM): `--ca-cert`, `TESSERA_CA_CERT`, `AWS_CA_BUNDLE`.
    pub ca_file: PathBuf,
    /// Client settings trusting the CA.
    pub tls: ClientTls,
}

/// A certificate authority made for one test.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
    der: rustls::pki_types::CertificateDer<'static>,
}

impl TestCa {
    /// A fresh CA named `name` (ECDSA P-256).
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("self-sign the CA");
        TestCa {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA certificate as PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Writes the CA certificate to `path` and returns what a client trusts it with.
    pub fn client(&self, path: &Path) -> TlsClient {
        std::fs::write(path, &self.pem).expect("write the CA file");
        let tls = ClientTls::with_roots(vec![self.der.clone()]).expect("client TLS");
        TlsClient {
            ca_file: path.to_path_buf(),
            tls,
        }
    }

    /// A node certificate for `localhost` and `127.0.0.1` with a key of `alg` (ECDSA P-256
    /// when `None`): (certificate chain PEM, key PEM).
    pub fn issue(&self, alg: Option<&'static SignatureAlgorithm>) -> (String, String) {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let mut params = CertificateParams::new(names).expect("node params");
        params
            .distinguished_name
            .push(DnType::CommonName, "tessera test node");
        let key = match alg {
            Some(alg) => KeyPair::generate_for(alg),
            None => KeyPair::generate(),
        }
        .expect("node key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        (format!("{}{}", cert.pem(), self.pem), key.serialize_pem())
    }

    /// Writes a certs directory at `dir`: a fresh node certificate of this CA, and the CA in
    /// `CAs/` (what peers are verified against).
    pub fn certs_dir(&self, dir: &Path) -> PathBuf {
        let (chain, key) = self.issue(None);
        write_certs(dir, &chain, &key);
        std::fs::create_dir_all(dir.join("CAs")).expect("create CAs/");
        std::fs::write(dir.join("CAs").join("test-ca.crt"), &self.pem).expect("write CA");
        dir.to_path_buf()
    }
}

/// Writes `public.crt` and `private.key` in `dir` (replacing them atomically, as an operator
/// renewing a certificate would).
pub fn write_certs(dir: &Path, chain: &str, key: &str) {
    std::fs::create_dir_all(dir).expect("create certs dir");
    for (name, text) in [("public.crt", chain), ("private.key", key)] {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).expect("write a certs file");
        std::fs::rename(&tmp, dir.join(name)).expect("rename a certs file");
    }
}

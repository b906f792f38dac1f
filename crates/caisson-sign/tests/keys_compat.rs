//! Key-file compatibility with independent implementations: cosign's
//! encrypted envelope against a Python implementation (hashlib.scrypt +
//! PyNaCl), and keys and signatures against OpenSSL.

use std::path::{Path, PathBuf};
use std::process::Command;

use caisson_sign::keys::{PublicKey, RsaPadding, SigningKey};
use caisson_sign::KeyError;
use caisson_testsupport::{have_tools, run};
use zeroize::Zeroizing;

const PASSWORD: &str = "correct horse battery staple";

fn have_pynacl() -> bool {
    if !have_tools(&["python3"]) {
        return false;
    }
    let ok = Command::new("python3")
        .args(["-c", "import nacl.secret"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let msg = "PyNaCl is not installed; run scripts/install-deps (scripts/deps.d/sign.sh)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        caisson_testsupport::skip(msg);
    }
    ok
}

fn envelope_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/envelope.py")
}

fn password() -> impl FnMut() -> Option<Zeroizing<Vec<u8>>> {
    || Some(Zeroizing::new(PASSWORD.as_bytes().to_vec()))
}

fn openssl(args: &[&str]) -> Vec<u8> {
    run(Command::new("openssl").args(args))
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

#[test]
fn caisson_generated_key_decrypts_with_python_and_matches_openssl() {
    if !have_pynacl() || !have_tools(&["openssl"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::generate_p256();
    let pem = key.to_encrypted_pem(PASSWORD.as_bytes()).expect("encrypt");
    assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    let key_path = dir.path().join("cosign.key");
    fs_err::write(&key_path, &pem).expect("write key");
    let der = run(Command::new("python3")
        .arg(envelope_py())
        .args(["decrypt", p(&key_path)])
        .env("COSIGN_PASSWORD", PASSWORD));
    let der_path = dir.path().join("plain.der");
    fs_err::write(&der_path, &der).expect("write der");
    // OpenSSL reads the decrypted PKCS#8 and derives the same public key.
    let pub_pem = openssl(&["pkey", "-inform", "DER", "-in", p(&der_path), "-pubout"]);
    assert_eq!(
        String::from_utf8(pub_pem).expect("pem"),
        key.public_key().to_pem().expect("pub pem")
    );
    // Wrong password: Python fails too (authenticated encryption).
    let out = Command::new("python3")
        .arg(envelope_py())
        .args(["decrypt", p(&key_path)])
        .env("COSIGN_PASSWORD", "wrong")
        .output()
        .expect("python");
    assert!(!out.status.success());
}

#[test]
fn python_envelope_decrypts_in_caisson() {
    if !have_pynacl() || !have_tools(&["openssl"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pem_path = dir.path().join("k.pem");
    let pkcs8 = dir.path().join("k.der");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        p(&pem_path),
    ]);
    // OpenSSL 3.0 writes EC keys in DER as SEC1; convert to PKCS#8 (what cosign encrypts).
    openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        p(&pem_path),
        "-outform",
        "DER",
        "-out",
        p(&pkcs8),
    ]);
    let pem = run(Command::new("python3")
        .arg(envelope_py())
        .args(["encrypt", p(&pkcs8)])
        .env("COSIGN_PASSWORD", PASSWORD));
    let key = SigningKey::from_pem(&pem, &mut password(), "python.key").expect("load");
    let want = openssl(&["pkey", "-inform", "DER", "-in", p(&pkcs8), "-pubout"]);
    assert_eq!(
        key.public_key().to_pem().expect("pem"),
        String::from_utf8(want).expect("utf8")
    );
    // The older PEM type holds the same envelope.
    let old = String::from_utf8(pem)
        .expect("utf8")
        .replace("SIGSTORE", "COSIGN");
    SigningKey::from_pem(old.as_bytes(), &mut password(), "old.key").expect("cosign label");
    let err = SigningKey::from_pem(
        old.as_bytes(),
        &mut || Some(Zeroizing::new(b"nope".to_vec())),
        "old.key",
    )
    .expect_err("wrong password");
    assert!(matches!(err, KeyError::Decrypt { .. }), "{err}");
    let err =
        SigningKey::from_pem(old.as_bytes(), &mut || None, "old.key").expect_err("no password");
    assert!(matches!(err, KeyError::NeedPassword { .. }), "{err}");
}

struct Case {
    name: &'static str,
    /// openssl commands producing `key.pem` in the directory (`{}` = path).
    gen: &'static [&'static [&'static str]],
    dgst: &'static str,
    sigopts: &'static [&'static str],
    padding: RsaPadding,
    label: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "p256-pkcs8",
        gen: &[&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "{}",
        ]],
        dgst: "-sha256",
        sigopts: &[],
        padding: RsaPadding::Pkcs1v15,
        label: "PRIVATE KEY",
    },
    Case {
        name: "p256-sec1",
        gen: &[&["ecparam", "-name", "prime256v1", "-genkey", "-out", "{}"]],
        dgst: "-sha256",
        sigopts: &[],
        padding: RsaPadding::Pkcs1v15,
        label: "EC PRIVATE KEY",
    },
    Case {
        name: "p384-sec1",
        gen: &[&[
            "ecparam",
            "-name",
            "secp384r1",
            "-genkey",
            "-noout",
            "-out",
            "{}",
        ]],
        dgst: "-sha384",
        sigopts: &[],
        padding: RsaPadding::Pkcs1v15,
        label: "EC PRIVATE KEY",
    },
    Case {
        name: "rsa-pkcs1",
        gen: &[&["genrsa", "-traditional", "-out", "{}", "2048"]],
        dgst: "-sha256",
        sigopts: &[],
        padding: RsaPadding::Pkcs1v15,
        label: "RSA PRIVATE KEY",
    },
    Case {
        name: "rsa-pkcs8-pss",
        gen: &[&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:3072",
            "-out",
            "{}",
        ]],
        dgst: "-sha256",
        sigopts: &[
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:digest",
        ],
        padding: RsaPadding::Pss,
        label: "PRIVATE KEY",
    },
];

#[test]
fn openssl_keys_load_sign_and_verify_both_ways() {
    if !have_tools(&["openssl"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let msg = dir.path().join("msg");
    fs_err::write(&msg, b"{\"critical\":{}}").expect("msg");
    for case in CASES {
        let key_pem = dir.path().join(format!("{}.pem", case.name));
        let pub_pem = dir.path().join(format!("{}.pub", case.name));
        for g in case.gen {
            let args: Vec<&str> = g
                .iter()
                .map(|a| if *a == "{}" { p(&key_pem) } else { a })
                .collect();
            openssl(&args);
        }
        openssl(&["pkey", "-in", p(&key_pem), "-pubout", "-out", p(&pub_pem)]);
        let text = fs_err::read_to_string(&key_pem).expect("read key");
        assert!(
            text.contains(&format!("BEGIN {}", case.label)),
            "{}: {text}",
            case.name
        );
        let key = SigningKey::from_pem(text.as_bytes(), &mut || None, case.name)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name))
            .with_rsa_padding(case.padding);
        let public = PublicKey::from_pem(&fs_err::read(&pub_pem).expect("pub"), case.name)
            .expect("public key");
        assert_eq!(key.public_key(), public, "{}", case.name);
        // Debug never shows key material.
        let dbg = format!("{key:?}");
        assert!(dbg.contains("redacted") && dbg.len() < 60, "{dbg}");

        // Caisson signs, OpenSSL verifies.
        let sig = key.sign(&fs_err::read(&msg).expect("msg")).expect("sign");
        let sig_path = dir.path().join(format!("{}.sig", case.name));
        fs_err::write(&sig_path, &sig).expect("sig");
        let mut args = vec!["dgst", case.dgst, "-verify", p(&pub_pem)];
        args.extend_from_slice(case.sigopts);
        args.extend_from_slice(&["-signature", p(&sig_path), p(&msg)]);
        let out = openssl(&args);
        assert!(
            String::from_utf8_lossy(&out).contains("Verified OK"),
            "{}",
            case.name
        );

        // OpenSSL signs, Caisson verifies; a flipped message fails.
        let osig_path = dir.path().join(format!("{}.osig", case.name));
        let mut args = vec!["dgst", case.dgst, "-sign", p(&key_pem)];
        args.extend_from_slice(case.sigopts);
        args.extend_from_slice(&["-out", p(&osig_path), p(&msg)]);
        openssl(&args);
        let osig = fs_err::read(&osig_path).expect("osig");
        public
            .verify(&fs_err::read(&msg).expect("msg"), &osig)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert!(
            public.verify(b"other message", &osig).is_err(),
            "{}",
            case.name
        );
    }
}

#[test]
fn rsa_public_key_pkcs1_and_pss_max_salt() {
    if !have_tools(&["openssl"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("rsa.pem");
    let rsapub = dir.path().join("rsa.pub");
    let msg = dir.path().join("m");
    let sig = dir.path().join("s");
    fs_err::write(&msg, b"payload").expect("msg");
    openssl(&["genrsa", "-out", p(&key), "2048"]);
    openssl(&[
        "rsa",
        "-in",
        p(&key),
        "-RSAPublicKey_out",
        "-out",
        p(&rsapub),
    ]);
    let public = PublicKey::from_pem(&fs_err::read(&rsapub).expect("pub"), "rsa.pub")
        .expect("RSA PUBLIC KEY");
    openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        p(&key),
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:max",
        "-out",
        p(&sig),
        p(&msg),
    ]);
    public
        .verify(b"payload", &fs_err::read(&sig).expect("sig"))
        .expect("PSS with maximum salt");
}

#[test]
fn unsupported_and_broken_keys_say_why() {
    if !have_tools(&["openssl"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let k = dir.path().join("k.pem");
    openssl(&["genpkey", "-algorithm", "ED25519", "-out", p(&k)]);
    let err = SigningKey::from_pem(&fs_err::read(&k).expect("k"), &mut || None, "ed.pem")
        .expect_err("ed25519");
    assert!(
        matches!(err, KeyError::UnsupportedAlgorithm { .. }),
        "{err}"
    );
    openssl(&[
        "ecparam",
        "-name",
        "secp521r1",
        "-genkey",
        "-noout",
        "-out",
        p(&k),
    ]);
    let err = SigningKey::from_pem(&fs_err::read(&k).expect("k"), &mut || None, "p521.pem")
        .expect_err("p521");
    assert!(
        err.to_string().contains("unsupported key algorithm"),
        "{err}"
    );
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-aes256",
        "-pass",
        "pass:x",
        "-out",
        p(&k),
    ]);
    let err = SigningKey::from_pem(&fs_err::read(&k).expect("k"), &mut || None, "enc.pem")
        .expect_err("pkcs8 encrypted");
    assert!(matches!(err, KeyError::Pkcs8Encrypted { .. }), "{err}");
    let err = SigningKey::from_pem(b"hello", &mut || None, "x").expect_err("not pem");
    assert!(matches!(err, KeyError::NotPem { .. }));
}

#[test]
fn own_envelope_round_trip_and_error_hygiene() {
    let key = SigningKey::generate_p256();
    let pem = key
        .to_encrypted_pem(b"")
        .expect("empty password is allowed, as in cosign");
    let back = SigningKey::from_pem(
        pem.as_bytes(),
        &mut || Some(Zeroizing::new(Vec::new())),
        "k",
    )
    .expect("decrypt");
    assert_eq!(back.public_key(), key.public_key());
    let err = SigningKey::from_pem(pem.as_bytes(), &mut password(), "k").expect_err("wrong");
    let der = key.to_pkcs8_der().expect("der");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(PASSWORD));
    assert!(!shown.contains(&format!("{:?}", &der[der.len() - 8..])));
}

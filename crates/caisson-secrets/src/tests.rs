//! One positive and one negative case per built-in rule, plus the scanner's
//! mechanics (prefilter, allow-lists, binaries, limits, redaction, user rules).

use super::*;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const UPPER32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A deterministic high-entropy string (not a real credential).
pub(crate) fn tok(n: usize, alphabet: &[u8], seed: u64) -> String {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            alphabet[((x >> 33) as usize) % alphabet.len()] as char
        })
        .collect()
}

fn pem(label: &str, headers: &str) -> String {
    let body: Vec<String> = (0..6).map(|i| tok(64, B64, 100 + i)).collect();
    format!(
        "-----BEGIN {label}-----\n{headers}{}\n-----END {label}-----\n",
        body.join("\n")
    )
}

/// (rule id, path, positive text, negative text)
fn cases() -> Vec<(&'static str, &'static str, String, String)> {
    let f = "/app/settings.env";
    vec![
        ("aws-access-key-id", f,
         format!("AWS_ACCESS_KEY_ID=AKIA{}\n", tok(16, UPPER32, 1)),
         "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nid=AKIA1234\n".into()),
        ("aws-secret-access-key", f,
         format!("aws_secret_access_key = {}\n", tok(40, B64, 2)),
         format!("aws_secret_access_key = {}\n", "a".repeat(40))),
        ("gcp-service-account", "/app/sa.json",
         format!("{{\n  \"type\": \"service_account\",\n  \"project_id\": \"p\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n\"\n}}\n", tok(120, B64, 3)),
         "{\"type\": \"authorized_user\", \"client_id\": \"x\"}\n".into()),
        ("gcp-api-key", f,
         format!("GOOGLE_API_KEY=AIza{}\n", tok(35, ALNUM, 4)),
         format!("GOOGLE_API_KEY=AIza{}\n", tok(20, ALNUM, 4))),
        ("azure-storage-connection-string", f,
         format!("CONN=DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={}==;EndpointSuffix=core.windows.net\n", tok(86, B64, 5)),
         "CONN=DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${KEY}\n".into()),
        ("azure-storage-account-key", f,
         format!("AZURE_STORAGE_KEY={}==\n", tok(86, B64, 6)),
         "AZURE_STORAGE_KEY=short==\n".into()),
        ("github-pat", f,
         format!("GH_TOKEN=ghp_{}\n", tok(36, ALNUM, 7)),
         format!("GH_TOKEN=ghp_{}\n", tok(20, ALNUM, 7))),
        ("github-oauth", f,
         format!("token: gho_{}\n", tok(36, ALNUM, 8)),
         format!("token: gho_{}\n", tok(12, ALNUM, 8))),
        ("github-app-token", f,
         format!("token: ghs_{}\n", tok(36, ALNUM, 9)),
         format!("token: ghs_{}\n", tok(30, ALNUM, 9))),
        ("github-refresh-token", f,
         format!("token: ghr_{}\n", tok(76, ALNUM, 10)),
         format!("token: ghr_{}\n", tok(20, ALNUM, 10))),
        ("github-fine-grained-pat", f,
         format!("GH=github_pat_{}_{}\n", tok(22, ALNUM, 11), tok(59, ALNUM, 12)),
         format!("GH=github_pat_{}\n", tok(22, ALNUM, 11))),
        ("gitlab-pat", f,
         format!("GITLAB_TOKEN=glpat-{}\n", tok(20, ALNUM, 13)),
         format!("GITLAB_TOKEN=glpat-{}\n", tok(10, ALNUM, 13))),
        ("slack-access-token", f,
         format!("SLACK=xoxb-2345678901-{}\n", tok(24, ALNUM, 14)),
         "SLACK=xoxb-abc\n".into()),
        ("slack-web-hook", f,
         format!("HOOK=https://hooks.slack.com/services/T0{}/B0{}/{}\n", tok(8, UPPER32, 15), tok(8, UPPER32, 16), tok(24, ALNUM, 17)),
         "HOOK=https://hooks.slack.com/services/\n".into()),
        ("stripe-secret-token", f,
         format!("STRIPE=sk_live_{}\n", tok(24, ALNUM, 18)),
         "STRIPE=sk_live_short\n".into()),
        ("npm-access-token", f,
         format!("NPM_TOKEN=npm_{}\n", tok(36, ALNUM, 19)),
         "npm_config_cache=/tmp/npm_cache_directory_for_builds_x\n".into()),
        ("pypi-upload-token", f,
         format!("TWINE_PASSWORD=pypi-AgEIcHlwaS5vcmc{}\n", tok(60, ALNUM, 20)),
         "TWINE_PASSWORD=pypi-AgEIcHlwaS5vcmcshort\n".into()),
        ("sendgrid-api-token", f,
         format!("SENDGRID=SG.{}.{}\n", tok(22, ALNUM, 21), tok(43, ALNUM, 22)),
         "SENDGRID=SG.abc.def\n".into()),
        ("dockerhub-pat", f,
         format!("DOCKER_PAT=dckr_pat_{}\n", tok(27, ALNUM, 23)),
         "DOCKER_PAT=dckr_pat_abc\n".into()),
        ("huggingface-token", f,
         format!("HF_TOKEN=hf_{}\n", tok(34, LETTERS, 24)),
         "HF_TOKEN=hf_abcdefghij\n".into()),
        ("private-key", "/app/key.pem",
         pem("RSA PRIVATE KEY", ""),
         format!("{}-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----\n", pem("PUBLIC KEY", ""))),
        ("jwt-token", f,
         format!("JWT=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.{}\n", tok(43, ALNUM, 25)),
         "JWT=eyJhbGciOiJIUzI1NiJ9\n".into()),
        ("dockerconfig-secret", "/root/.docker/config.json",
         "{\"auths\": {\"registry.example.com\": {\"auth\": \"dXNlcjpzM2NyM3QtcGFzcw==\"}}}\n".into(),
         "{\"auths\": {\"registry.example.com\": {}}, \"credsStore\": \"desktop\"}\n".into()),
        ("npmrc-auth", "/root/.npmrc",
         format!("//registry.npmjs.org/:_authToken={}\n", tok(32, ALNUM, 26)),
         "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n".into()),
        ("pypirc-password", "/root/.pypirc",
         format!("[pypi]\nusername = uploader\npassword = {}\n", tok(16, ALNUM, 27)),
         "[pypi]\nusername = uploader\npassword = ${PYPI_PASSWORD}\n".into()),
        ("database-url-password", f,
         format!("DATABASE_URL=postgres://app:{}@db.internal:5432/app\n", tok(16, ALNUM, 28)),
         "DATABASE_URL=postgres://app:${DB_PASS}@db/app\nURL=postgres://localhost:5432/app\n".into()),
        ("generic-secret-assignment", f,
         format!("DB_PASSWORD={}\n", tok(20, ALNUM, 29)),
         "password = changeme\nDB_PASSWORD=aaaaaaaaaaaaaaaaaa\nsecret = settings.SECRET_KEY\nset_api_key :rubygems_api_key\n#   uri.password = \"V3ry_S3nsit1ve\"\n".into()),
    ]
}

fn ids(findings: &[SecretFinding]) -> Vec<&str> {
    findings.iter().map(|f| f.rule_id.as_str()).collect()
}

#[test]
fn builtin_rules_compile() {
    let rs = RuleSet::with_user(None).expect("built-in rules");
    assert!(rs.rules().len() >= 27);
}

#[test]
fn every_rule_has_a_positive_and_negative_case() {
    let rs = RuleSet::builtin();
    let cases = cases();
    for r in rs.rules() {
        assert!(
            cases.iter().any(|(id, ..)| *id == r.id),
            "rule {} has no test case",
            r.id
        );
    }
}

#[test]
fn each_rule_positive() {
    let rs = RuleSet::builtin();
    for (id, path, pos, _) in cases() {
        let found = rs.scan(path, pos.as_bytes());
        assert!(
            ids(&found).contains(&id),
            "{id}: expected a finding in {pos:?}, got {found:?}"
        );
    }
}

#[test]
fn each_rule_negative() {
    let rs = RuleSet::builtin();
    for (id, path, _, neg) in cases() {
        let found = rs.scan(path, neg.as_bytes());
        assert!(
            !ids(&found).contains(&id),
            "{id}: expected no finding in {neg:?}, got {found:?}"
        );
    }
}

#[test]
fn path_limited_rules_ignore_other_paths() {
    let rs = RuleSet::builtin();
    let docker = "{\"auths\": {\"r\": {\"auth\": \"dXNlcjpzM2NyM3QtcGFzcw==\"}}}";
    assert!(rs
        .scan("/etc/app/config.json", docker.as_bytes())
        .is_empty());
}

#[test]
fn private_key_variants() {
    let rs = RuleSet::builtin();
    for label in [
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "DSA PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
    ] {
        let found = rs.scan("/k", pem(label, "").as_bytes());
        assert_eq!(ids(&found), ["private-key"], "{label}");
    }
    let legacy = pem(
        "RSA PRIVATE KEY",
        "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n\n",
    );
    assert_eq!(ids(&rs.scan("/k", legacy.as_bytes())), ["private-key"]);
}

#[test]
fn findings_never_hold_the_secret() {
    let rs = RuleSet::builtin();
    for (id, path, pos, _) in cases() {
        for f in rs.scan(path, pos.as_bytes()) {
            let json = serde_json::to_string(&f).expect("json");
            // The longest run of the positive text that is not the key name must be absent.
            for word in pos.split(|c: char| "=: \n\"{},;/".contains(c)) {
                if word.len() >= 16
                    && word.bytes().any(|b| b.is_ascii_digit())
                    && shannon_entropy(word.as_bytes()) > 3.5
                {
                    assert!(!json.contains(word), "{id}: {json} leaks {word}");
                }
            }
            assert!(f.redacted.contains("*****"), "{id}: {}", f.redacted);
        }
    }
}

#[test]
fn line_numbers_are_one_based() {
    let rs = RuleSet::builtin();
    let text = format!("a\nb\nGH_TOKEN=ghp_{}\n", tok(36, ALNUM, 7));
    let found = rs.scan("/f", text.as_bytes());
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].start_line, found[0].end_line), (3, 3));
    assert_eq!(found[0].redacted, "GH_TOKEN=*****");
}

#[test]
fn binaries_are_skipped() {
    let rs = RuleSet::builtin();
    let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
    elf.extend(format!("ghp_{}", tok(36, ALNUM, 7)).bytes());
    assert!(rs.scan("/usr/bin/x", &elf).is_empty());
    let mut nul = format!("ghp_{}", tok(36, ALNUM, 7)).into_bytes();
    nul.push(0);
    assert!(rs.scan("/data", &nul).is_empty());
    assert!(is_binary(b"PK\x03\x04"));
    assert!(!is_binary(b"plain text"));
}

#[test]
fn allowed_paths_and_size_limit() {
    let rs = RuleSet::builtin();
    let text = format!("GH_TOKEN=ghp_{}\n", tok(36, ALNUM, 7));
    assert!(rs
        .scan("/usr/share/doc/x/README", text.as_bytes())
        .is_empty());
    assert!(rs
        .scan(
            "/usr/lib/python3.11/site-packages/x/tests/t.py",
            text.as_bytes()
        )
        .is_empty());
    assert_eq!(rs.skip_before_read("/big", 11 << 20), Some(Skip::TooLarge));
    let mut r = std::io::Cursor::new(text.clone());
    let found = rs
        .scan_reader("/app/f", &mut r, text.len() as u64)
        .expect("read");
    assert_eq!(found.len(), 1);
}

#[test]
fn user_rules_add_disable_and_extend_allow_list() {
    let user = r#"
disable = ["jwt-token"]
max-file-size = 1024
[allow]
paths = ['^/srv/fixtures/']
[[rule]]
id = "acme-token"
title = "ACME internal token"
severity = "HIGH"
keywords = ["acme_"]
regex = '''acme_[0-9a-f]{32}'''
"#;
    let rs = RuleSet::with_user(Some(("user.toml", user))).expect("user rules");
    assert!(rs.rule("jwt-token").is_none());
    assert_eq!(rs.max_file_size, 1024);
    let text = format!("T=acme_{}\n", "0123456789abcdef".repeat(2));
    assert_eq!(ids(&rs.scan("/app/x", text.as_bytes())), ["acme-token"]);
    assert!(rs.scan("/srv/fixtures/x", text.as_bytes()).is_empty());
    let jwt = format!(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.{}",
        tok(43, ALNUM, 25)
    );
    assert!(rs.scan("/app/x", jwt.as_bytes()).is_empty());
}

#[test]
fn user_rule_errors_name_the_file() {
    let e = RuleSet::with_user(Some(("u.toml", "disable = [\"nope\"]"))).expect_err("unknown");
    assert!(e.to_string().contains("u.toml") && e.to_string().contains("nope"));
    let e = RuleSet::with_user(Some(("u.toml", "bogus = 1"))).expect_err("unknown field");
    assert!(e.to_string().contains("u.toml"));
    let bad = "[[rule]]\nid = \"Bad_Id\"\ntitle = \"t\"\nseverity = \"LOW\"\nkeywords = [\"k\"]\nregex = \"k\"\n";
    let e = RuleSet::with_user(Some(("u.toml", bad))).expect_err("kebab");
    assert!(e.to_string().contains("kebab"));
    let bad = "[[rule]]\nid = \"r\"\ntitle = \"t\"\nseverity = \"LOW\"\nkeywords = [\"k\"]\nregex = \"(\"\n";
    assert!(matches!(
        RuleSet::with_user(Some(("u.toml", bad))),
        Err(RuleError::Regex { .. })
    ));
}

#[test]
fn entropy_values() {
    assert_eq!(shannon_entropy(b""), 0.0);
    assert_eq!(shannon_entropy(b"aaaa"), 0.0);
    assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
    assert!(shannon_entropy(tok(40, B64, 1).as_bytes()) > 4.0);
}

#[test]
fn prefilter_is_case_insensitive_but_regex_decides() {
    let rs = RuleSet::builtin();
    // Keyword present, regex does not match: nothing.
    assert!(rs.scan("/f", b"PASSWORD is required\n").is_empty());
    let text = format!("Db_PassWord: {}\n", tok(20, ALNUM, 30));
    assert_eq!(
        ids(&rs.scan("/f", text.as_bytes())),
        ["generic-secret-assignment"]
    );
}

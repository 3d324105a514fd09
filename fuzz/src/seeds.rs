//! The seed corpus: a handful of small, real inputs per target (`fuzz/corpus/<target>/`),
//! signed and sealed with the fixture's keys. `cargo xtask fuzz --write-seeds` writes them again
//! (the sealed ones differ on every run: their nonces are random).

use std::fs;
use std::io;
use std::path::Path;

use serde_json::json;
use session_cookie::fuzzing as cookie;
use session_core::Record;
use session_redis::fuzzing as redis;

use crate::fixture::{known_record, signer_of, Fixture, COOKIE_NAME, CURRENT_KEY, NOW, OLD_KEY};

/// One seed: its target, its file name, its bytes.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The target's name.
    pub target: &'static str,
    /// The file name in the target's corpus folder.
    pub name: &'static str,
    /// The input.
    pub bytes: Vec<u8>,
}

fn seed(target: &'static str, name: &'static str, bytes: impl Into<Vec<u8>>) -> Seed {
    Seed {
        target,
        name,
        bytes: bytes.into(),
    }
}

/// A record with `data`, created and last active at `at`, expiring two hours later, at version 3.
fn record(data: serde_json::Value, at: u64) -> Record {
    let serde_json::Value::Object(data) = data else {
        unreachable!("records are built from object literals")
    };
    let mut record = Record::new(data, at, at + 2 * 3_600_000);
    record.version = 3;
    record
}

/// Every seed.
pub fn all() -> Vec<Seed> {
    let mut out = Vec::new();
    cookie_header(&mut out);
    sealed_cookie(&mut out);
    key_path(&mut out);
    form_keys(&mut out);
    records(&mut out);
    out
}

/// Writes every seed under `corpus/<target>/<name>`, replacing the folders' contents.
pub fn write(corpus: &Path) -> io::Result<usize> {
    let seeds = all();
    let mut targets: Vec<&str> = seeds.iter().map(|s| s.target).collect();
    targets.sort_unstable();
    targets.dedup();
    for target in targets {
        let dir = corpus.join(target);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
    }
    for seed in &seeds {
        fs::write(corpus.join(seed.target).join(seed.name), &seed.bytes)?;
    }
    Ok(seeds.len())
}

#[allow(clippy::expect_used)]
fn sealed(secret_index: usize, plaintext: &[u8]) -> String {
    let fx = Fixture::get();
    cookie::seal(
        &fx.sealing_keys[secret_index..=secret_index],
        COOKIE_NAME,
        &fx.key,
        plaintext,
    )
    .expect("sealing works")
}

fn cookie_header(out: &mut Vec<Seed>) {
    let fx = Fixture::get();
    let t = "cookie_header";
    let id = signer_of(CURRENT_KEY).sign(&fx.id);
    let old_id = signer_of(OLD_KEY).sign(&fx.id);
    let plain = cookie::encode_plaintext(&known_record());
    let data = sealed(0, &plain);
    let old_data = sealed(1, &plain);
    out.push(seed(t, "id-only", format!("{COOKIE_NAME}={id}")));
    out.push(seed(
        t,
        "id-and-data",
        format!("{COOKIE_NAME}={id}; {COOKIE_NAME}.d=1.{data}"),
    ));
    out.push(seed(
        t,
        "older-key",
        format!("{COOKIE_NAME}={old_id}; {COOKIE_NAME}.d=1.{old_data}"),
    ));
    let third = data.len().div_ceil(3);
    out.push(seed(
        t,
        "three-chunks",
        format!(
            "{COOKIE_NAME}={id}; {COOKIE_NAME}.d=3.{}; {COOKIE_NAME}.d.1={}; {COOKIE_NAME}.d.2={}",
            &data[..third],
            &data[third..2 * third],
            &data[2 * third..]
        ),
    ));
    out.push(seed(
        t,
        "two-headers",
        format!("theme=dark; {COOKIE_NAME}={id}\n{COOKIE_NAME}.d=1.{data}; lang=en"),
    ));
    out.push(seed(
        t,
        "latin1-neighbour",
        [
            b"name=caf\xe9; ".as_slice(),
            format!("{COOKIE_NAME}={id}").as_bytes(),
        ]
        .concat(),
    ));
    out.push(seed(
        t,
        "first-wins",
        format!("{COOKIE_NAME}=garbage; {COOKIE_NAME}={id}"),
    ));
    let mut tampered = data.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    out.push(seed(
        t,
        "tampered-data",
        [
            format!("{COOKIE_NAME}={id}; {COOKIE_NAME}.d=1.").as_bytes(),
            &tampered,
        ]
        .concat(),
    ));
    out.push(seed(
        t,
        "unsigned",
        format!("{COOKIE_NAME}={}; other=1", fx.id.expose()),
    ));
}

fn sealed_cookie(out: &mut Vec<Seed>) {
    let t = "sealed_cookie";
    let known = cookie::encode_plaintext(&known_record());
    let with = |flags: u8, plain: &[u8]| [&[flags][..], plain].concat();
    out.push(seed(t, "one-chunk", with(0x00, &known)));
    out.push(seed(t, "three-chunks", with(0x02, &known)));
    out.push(seed(t, "wrong-count", with(0x12, &known)));
    out.push(seed(t, "round-trip", with(0x40, &known)));
    out.push(seed(
        t,
        "json-envelope",
        with(0x00, &known_record().encode()),
    ));
    let flashed = record(
        json!({"cart": [1], "__flash__": {"notice": "Saved", "errors": {"title": ["required"]}}}),
        NOW - 1_000,
    );
    out.push(seed(
        t,
        "flash-messages",
        with(0xc1, &cookie::encode_plaintext(&flashed)),
    ));
    let expired = record(json!({"a": 1}), NOW - 30 * 86_400_000);
    out.push(seed(
        t,
        "expired",
        with(0x00, &cookie::encode_plaintext(&expired)),
    ));
}

fn key_path(out: &mut Vec<Seed>) {
    let t = "key_path";
    for (name, path) in [
        ("plain", "cart_total"),
        ("dotted", "user.name"),
        ("brackets", "a[b][c]"),
        ("quoted", "cart[\"items\"].0"),
        ("single-quoted", "x['y'].z"),
        ("mixed", "items[0].title"),
        ("unicode", "ünï.ç[ö]"),
        ("empty-segment", "a..b"),
        ("unclosed", "a[b"),
        ("flash-key", "__flash__.notice"),
    ] {
        out.push(seed(t, name, path));
    }
}

fn form_keys(out: &mut Vec<Seed>) {
    let t = "form_keys";
    for (name, mode, body) in [
        (
            "all",
            0u8,
            "title=Hi\nuser[name]=ada\nuser[email]=ada@example.com\npassword=secret",
        ),
        (
            "only",
            1,
            "title=Hi\nbody=Text\npassword=secret\n?title\n?body",
        ),
        (
            "except",
            2,
            "email=ada@example.com\npassword=secret\n?password",
        ),
        (
            "nested-except",
            2,
            "user[name]=ada\nuser[password]=x\n?user.password",
        ),
        ("overlap", 0, "items[0]=a\nitems[1]=b\na.b.c=1\na=2\na.b=3"),
        (
            "json-values",
            0,
            "data={\"x\":[1,2,{\"y\":null}]}\nn=12.5\nflag=true\nnothing=null",
        ),
        ("bad-path", 1, "a[b]=1\n?a[b"),
        (
            "except-in-array",
            2,
            "cards=[{\"number\":\"4242\",\"cvv\":\"123\"}]\nuser[name]=ada\n?cards.0.cvv",
        ),
    ] {
        out.push(seed(t, name, [&[mode][..], body.as_bytes()].concat()));
    }
}

fn records(out: &mut Vec<Seed>) {
    let known = known_record();
    let mut max = record(
        json!({"n": -1.5e-7, "s": "ünïcødé \"quoted\" \u{1}", "deep": {"a": [[], {}, null, true]}}),
        NOW,
    );
    max.version = u64::MAX;
    max.last_active = u64::MAX;
    let flashed = record(json!({"__flash__": {"notice": "Saved"}, "n": 1}), NOW);

    let t = "record_decode_json";
    out.push(seed(t, "known", known.encode()));
    out.push(seed(t, "extremes", max.encode()));
    out.push(seed(t, "flash", flashed.encode()));
    out.push(seed(
        t,
        "unknown-format",
        r#"{"format":2,"data":{},"version":0,"created_at":0,"last_active":0,"expires_at":0}"#,
    ));

    let t = "record_decode_redis";
    out.push(seed(t, "known", redis::value(&known)));
    out.push(seed(t, "extremes", redis::value(&max)));
    out.push(seed(t, "flash", redis::value(&flashed)));
    let mut upper = redis::value(&flashed);
    upper[13] = b'F';
    out.push(seed(t, "upper-case-digit", upper));

    let t = "record_decode_cookie";
    out.push(seed(t, "known", cookie::encode_plaintext(&known)));
    out.push(seed(t, "extremes", cookie::encode_plaintext(&max)));
    out.push(seed(t, "json-envelope", flashed.encode()));
}

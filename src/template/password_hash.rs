//! The `password_hash` filter as Ansible 2.19 gives it (through passlib): SHA-512 or
//! SHA-256 crypt (`$6$rounds=656000$salt$hash`), the rounds Ansible makes implicit, a
//! random 16-character salt unless one is given. The hash itself is the `sha-crypt`
//! crate's; the crypt text encoding around it is here.

use minijinja::value::Kwargs;
use minijinja::{Error, ErrorKind, Value as MjValue};

fn error(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// SHA-512 crypt's byte order for the encoding, in groups of three (the last alone).
const ORDER_512: [[usize; 3]; 21] = [
    [0, 21, 42],
    [22, 43, 1],
    [44, 2, 23],
    [3, 24, 45],
    [25, 46, 4],
    [47, 5, 26],
    [6, 27, 48],
    [28, 49, 7],
    [50, 8, 29],
    [9, 30, 51],
    [31, 52, 10],
    [53, 11, 32],
    [12, 33, 54],
    [34, 55, 13],
    [56, 14, 35],
    [15, 36, 57],
    [37, 58, 16],
    [59, 17, 38],
    [18, 39, 60],
    [40, 61, 19],
    [62, 20, 41],
];

const ORDER_256: [[usize; 3]; 10] = [
    [0, 10, 20],
    [21, 1, 11],
    [12, 22, 2],
    [3, 13, 23],
    [24, 4, 14],
    [15, 25, 5],
    [6, 16, 26],
    [27, 7, 17],
    [18, 28, 8],
    [9, 19, 29],
];

fn b64_24(out: &mut String, b2: u8, b1: u8, b0: u8, n: usize) {
    let mut w = (u32::from(b2) << 16) | (u32::from(b1) << 8) | u32::from(b0);
    for _ in 0..n {
        out.push(char::from(ITOA64[(w & 0x3f) as usize]));
        w >>= 6;
    }
}

fn encode(hash: &[u8]) -> String {
    let mut out = String::new();
    if hash.len() == 64 {
        for [a, b, c] in ORDER_512 {
            b64_24(&mut out, hash[a], hash[b], hash[c], 4);
        }
        b64_24(&mut out, 0, 0, hash[63], 2);
    } else {
        for [a, b, c] in ORDER_256 {
            b64_24(&mut out, hash[a], hash[b], hash[c], 4);
        }
        b64_24(&mut out, 0, hash[31], hash[30], 3);
    }
    out
}

fn random_salt(len: usize) -> Result<String, Error> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| error(format!("cannot get random bytes: {e}")))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ITOA64[usize::from(b & 0x3f)]))
        .collect())
}

/// `password_hash(hashtype='sha512', salt=None, salt_size=None, rounds=None, ident=None)`.
pub(super) fn password_hash(
    password: MjValue,
    hashtype: Option<String>,
    salt: Option<MjValue>,
    k: Kwargs,
) -> Result<String, Error> {
    let hashtype = match hashtype {
        Some(h) => h,
        None => k
            .get::<Option<String>>("hashtype")?
            .unwrap_or_else(|| "sha512".into()),
    };
    let salt = match salt {
        Some(s) => Some(s),
        None => k.get::<Option<MjValue>>("salt")?,
    }
    .filter(|s| !s.is_none());
    let salt_size: Option<MjValue> = k.get("salt_size")?;
    let rounds: Option<MjValue> = k.get("rounds")?;
    let _ident: Option<MjValue> = k.get("ident")?;
    k.assert_all_used()?;
    let algorithm = match hashtype.as_str() {
        "md5" => "md5_crypt",
        "blowfish" => "bcrypt",
        "sha256" => "sha256_crypt",
        "sha512" => "sha512_crypt",
        other => other,
    };
    let (ident, implicit_rounds) = match algorithm {
        "sha512_crypt" => ("6", 656_000),
        "sha256_crypt" => ("5", 535_000),
        "md5_crypt" | "bcrypt" => {
            return Err(error(format!(
                "tprov cannot hash with {algorithm} yet (sha512 and sha256 it can)"
            )));
        }
        _ => {
            return Err(error(format!(
                "{algorithm} is not in the list of supported passlib algorithms: md5, blowfish, sha256, sha512"
            )));
        }
    };
    let salt_size = match salt_size.filter(|s| !s.is_none()) {
        Some(s) if s.is_integer() => {
            Some(usize::try_from(s).map_err(|_| error("salt_size must be an integer"))?)
        }
        Some(_) => return Err(error("salt_size must be an integer")),
        None => None,
    };
    let rounds = match rounds.filter(MjValue::is_true) {
        Some(r) => u32::try_from(r).map_err(|_| error("Could not hash the secret."))?,
        None => implicit_rounds,
    };
    let salt = match salt {
        Some(s) => {
            let s = super::convert::py_str(&s)?;
            if !s.bytes().all(|b| ITOA64.contains(&b)) {
                return Err(error("Could not hash the secret."));
            }
            s.chars().take(16).collect()
        }
        None => random_salt(salt_size.unwrap_or(16).min(16))?,
    };
    let params = sha_crypt::Params::new(rounds).map_err(|_| error("Could not hash the secret."))?;
    let text = super::convert::py_str(&password)?;
    let hash = if ident == "6" {
        encode(&sha_crypt::sha512_crypt(
            text.as_bytes(),
            salt.as_bytes(),
            params,
        ))
    } else {
        encode(&sha_crypt::sha256_crypt(
            text.as_bytes(),
            salt.as_bytes(),
            params,
        ))
    };
    // passlib leaves out `rounds=` only for crypt's own default.
    let rounds = if rounds == 5000 {
        String::new()
    } else {
        format!("rounds={rounds}$")
    };
    Ok(format!("${ident}${rounds}{salt}${hash}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_glibc_crypt() {
        // python3 -c "import crypt; print(crypt.crypt('secret', '$6$saltsalt'))"
        let p = sha_crypt::Params::new(5000).unwrap();
        assert_eq!(
            encode(&sha_crypt::sha512_crypt(b"secret", b"saltsalt", p)),
            GLIBC_512
        );
        assert_eq!(
            encode(&sha_crypt::sha256_crypt(b"secret", b"saltsalt", p)),
            GLIBC_256
        );
    }

    const GLIBC_512: &str =
        "TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
    const GLIBC_256: &str = "0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";
}

//! Vault's AES256 cipher (`VaultAES256`): PBKDF2-HMAC-SHA256 over the password and a
//! salt (10000 rounds, 80 bytes: the AES key, the HMAC key, the counter's start), PKCS#7
//! padding, AES-256 in CTR mode, and an HMAC-SHA256 of the ciphertext. The payload is
//! hex of `hex(salt) \n hex(hmac) \n hex(ciphertext)`.

use super::{VaultError, err};
use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{KeyInit, Mac};

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;
type HmacSha256 = hmac::Hmac<sha2::Sha256>;

const ROUNDS: u32 = 10_000;
const BLOCK: usize = 16;

struct Keys {
    cipher: [u8; 32],
    mac: [u8; 32],
    iv: [u8; 16],
}

fn keys(password: &[u8], salt: &[u8]) -> Keys {
    let mut out = [0u8; 80];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, ROUNDS, &mut out);
    let mut k = Keys {
        cipher: [0; 32],
        mac: [0; 32],
        iv: [0; 16],
    };
    k.cipher.copy_from_slice(&out[..32]);
    k.mac.copy_from_slice(&out[32..64]);
    k.iv.copy_from_slice(&out[64..]);
    k
}

fn ctr(k: &Keys, buf: &mut [u8]) {
    Aes256Ctr::new(&k.cipher.into(), &k.iv.into()).apply_keystream(buf);
}

fn mac(k: &Keys) -> HmacSha256 {
    // An HMAC takes a key of any length.
    <HmacSha256 as KeyInit>::new_from_slice(&k.mac).unwrap_or_else(|_| unreachable!())
}

/// The parts of a payload.
pub(super) struct Parts {
    pub(super) salt: Vec<u8>,
    pub(super) mac: Vec<u8>,
    pub(super) ciphertext: Vec<u8>,
}

/// Splits the (unwrapped) hex payload into salt, HMAC and ciphertext.
pub(super) fn parse(payload: &[u8]) -> Result<Parts, VaultError> {
    let unhex = |b: &[u8]| hex::decode(b).map_err(|_| err("Vault format unhexlify error."));
    let inner = unhex(payload)?;
    let mut parts = inner.splitn(3, |b| *b == b'\n');
    let (Some(salt), Some(mac), Some(ciphertext)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(err("Vault vaulttext format error."));
    };
    Ok(Parts {
        salt: unhex(salt)?,
        mac: unhex(mac)?,
        ciphertext: unhex(ciphertext)?,
    })
}

/// The plaintext, or None when the HMAC does not match (a wrong password) or the
/// padding is not PKCS#7.
pub(super) fn decrypt(
    password: &[u8],
    salt: &[u8],
    tag: &[u8],
    ciphertext: &[u8],
) -> Option<Vec<u8>> {
    let k = keys(password, salt);
    let mut m = mac(&k);
    m.update(ciphertext);
    m.verify_slice(tag).ok()?;
    let mut buf = ciphertext.to_vec();
    ctr(&k, &mut buf);
    let pad = usize::from(*buf.last()?);
    if pad == 0
        || pad > BLOCK
        || pad > buf.len()
        || !buf[buf.len() - pad..]
            .iter()
            .all(|b| usize::from(*b) == pad)
    {
        return None;
    }
    buf.truncate(buf.len() - pad);
    Some(buf)
}

/// The hex payload (not yet cut into lines).
pub(super) fn encrypt(password: &[u8], salt: &[u8], plain: &[u8]) -> String {
    let k = keys(password, salt);
    let pad = BLOCK - plain.len() % BLOCK;
    let mut buf = plain.to_vec();
    buf.extend(std::iter::repeat_n(u8::try_from(pad).unwrap_or(16), pad));
    ctr(&k, &mut buf);
    let mut m = mac(&k);
    m.update(&buf);
    let tag = m.finalize().into_bytes();
    let inner = format!(
        "{}\n{}\n{}",
        hex::encode(salt),
        hex::encode(tag),
        hex::encode(&buf)
    );
    hex::encode(inner)
}

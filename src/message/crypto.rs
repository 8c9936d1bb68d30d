//! WeChat's message crypto: the URL signature and safe mode (AES-256-CBC with the
//! EncodingAESKey), as the official account message-encryption specification describes.
//!
//! - `signature = sha1(sort(token, timestamp, nonce))` on every request;
//!   `msg_signature = sha1(sort(token, timestamp, nonce, Encrypt))` in safe mode.
//! - key = base64 of the 43-character EncodingAESKey plus `=` (32 bytes); IV = its first 16 bytes.
//! - plaintext = 16 random bytes ‖ message length (4 bytes, big-endian) ‖ message ‖ appid,
//!   PKCS#7-padded to a multiple of 32 bytes (not the cipher's 16), encrypted with AES-256-CBC
//!   without further padding, sent as base64.
//!
//! The block cipher, the mode, SHA-1 and base64 are the RustCrypto / base64 crates; only the
//! framing and the 32-byte padding (which no crate does) are here.

use aes::Aes256;
use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use serde_json::Value;
use sha1::{Digest, Sha1};

use crate::util::Secret;

/// The element of a safe-mode message that carries the encrypted one.
pub const ENCRYPT: &str = "Encrypt";

/// WeChat pads to 32-byte blocks.
const PAD_BLOCK: usize = 32;

/// The EncodingAESKey's last character carries 2 unused bits that need not be zero.
const KEY_B64: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::STANDARD, GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true));

/// Lower-case hex SHA-1 of the parts sorted and concatenated (both signatures).
pub fn signature(parts: &[&str]) -> String {
    let mut sorted = parts.to_vec();
    sorted.sort_unstable();
    let mut h = Sha1::new();
    for p in sorted {
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two signatures without stopping at the first difference.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Appends PKCS#7 padding to a multiple of 32 bytes (1..=32 bytes, each the pad length).
pub fn pad32(buf: &mut Vec<u8>) {
    let n = PAD_BLOCK - buf.len() % PAD_BLOCK;
    buf.extend(std::iter::repeat_n(n as u8, n));
}

/// The data without its 32-byte PKCS#7 padding.
pub fn unpad32(buf: &[u8]) -> Result<&[u8], String> {
    let n = *buf.last().ok_or("empty plaintext")? as usize;
    if n == 0 || n > PAD_BLOCK || n > buf.len() || !buf[buf.len() - n..].iter().all(|&b| b as usize == n) {
        return Err("bad padding".into());
    }
    Ok(&buf[..buf.len() - n])
}

/// The body of a safe-mode push: who it is for (`ToUserName` an account, `AppId` the platform)
/// and the encrypted message.
pub fn envelope(header: &str, value: &str, encrypted: &str) -> String {
    let (value, enc) = (Value::from(value), Value::from(encrypted));
    super::xml::write([(header, &value), (ENCRYPT, &enc)])
}

/// Safe-mode encryption and decryption for one EncodingAESKey and appid.
#[derive(Clone, Debug)]
pub struct MsgCrypt {
    key: Secret<[u8; 32]>,
    appid: String,
}

impl MsgCrypt {
    /// `encoding_aes_key` is the 43 characters from the admin console.
    pub fn new(encoding_aes_key: &str, appid: &str) -> Result<MsgCrypt, String> {
        let k = encoding_aes_key.trim();
        if k.len() != 43 {
            return Err(format!("the EncodingAESKey must be 43 characters, got {}", k.len()));
        }
        let bytes = KEY_B64
            .decode(format!("{k}="))
            .map_err(|_| "the EncodingAESKey must be 43 characters of base64 (A-Z a-z 0-9 + /)".to_string())?;
        let key: [u8; 32] =
            bytes.try_into().map_err(|_| "the EncodingAESKey does not decode to 32 bytes".to_string())?;
        Ok(MsgCrypt { key: key.into(), appid: appid.to_string() })
    }

    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// The same key for another appid's messages.
    pub fn for_appid(&self, appid: &str) -> MsgCrypt {
        MsgCrypt { key: self.key.clone(), appid: appid.to_string() }
    }

    /// The AES key (32 bytes); the IV is its first 16.
    pub fn key(&self) -> &[u8; 32] {
        self.key.expose()
    }

    /// The framed, padded plaintext for `msg` with the given 16 random bytes.
    pub fn frame(&self, msg: &[u8], random: &[u8; 16]) -> Vec<u8> {
        let mut buf = Vec::with_capacity(16 + 4 + msg.len() + self.appid.len() + PAD_BLOCK);
        buf.extend_from_slice(random);
        buf.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        buf.extend_from_slice(msg);
        buf.extend_from_slice(self.appid.as_bytes());
        pad32(&mut buf);
        buf
    }

    /// Encrypts `msg` with the given random prefix; returns base64.
    pub fn encrypt_with(&self, msg: &[u8], random: &[u8; 16]) -> String {
        let mut buf = self.frame(msg, random);
        let len = buf.len();
        let enc =
            cbc::Encryptor::<Aes256>::new_from_slices(self.key(), &self.key()[..16]).expect("32-byte key, 16-byte iv");
        let ct = enc.encrypt_padded::<NoPadding>(&mut buf, len).expect("the frame is a whole number of blocks");
        STANDARD.encode(ct)
    }

    /// Encrypts `msg` with a fresh random prefix; returns base64.
    pub fn encrypt(&self, msg: &[u8]) -> String {
        let mut random = [0u8; 16];
        // The prefix only varies the ciphertext (the specification asks for random bytes, not secret ones).
        random.iter_mut().for_each(|b| *b = fastrand::u8(..));
        self.encrypt_with(msg, &random)
    }

    /// Decrypts base64 `encrypted`; returns the message and the appid it carries (unchecked).
    pub fn decrypt(&self, encrypted: &str) -> Result<(Vec<u8>, String), String> {
        let mut buf = STANDARD.decode(encrypted.trim()).map_err(|_| "Encrypt is not base64".to_string())?;
        if buf.is_empty() || buf.len() % PAD_BLOCK != 0 {
            return Err("Encrypt is not a whole number of 32-byte blocks".into());
        }
        let dec =
            cbc::Decryptor::<Aes256>::new_from_slices(self.key(), &self.key()[..16]).expect("32-byte key, 16-byte iv");
        let plain = dec.decrypt_padded::<NoPadding>(&mut buf).map_err(|_| "cannot decrypt".to_string())?;
        let plain = unpad32(plain)?;
        if plain.len() < 20 {
            return Err("decrypted text is too short".into());
        }
        let len = u32::from_be_bytes([plain[16], plain[17], plain[18], plain[19]]) as usize;
        let rest = &plain[20..];
        if len > rest.len() {
            return Err("decrypted length is out of range".into());
        }
        let appid = String::from_utf8(rest[len..].to_vec()).map_err(|_| "decrypted appid is not UTF-8".to_string())?;
        Ok((rest[..len].to_vec(), appid))
    }

    /// Decrypts and checks the appid.
    pub fn open(&self, encrypted: &str) -> Result<Vec<u8>, String> {
        let (msg, appid) = self.decrypt(encrypted)?;
        if appid != self.appid {
            return Err(format!("appid mismatch: the message is for {appid:?}"));
        }
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    #[test]
    fn signature_sorts() {
        // sha1("123tokenabc") — sorted: "123" < "abc" < "token"
        assert_eq!(signature(&["token", "abc", "123"]), signature(&["123", "abc", "token"]));
        assert_eq!(signature(&["a"]), "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8");
    }

    #[test]
    fn padding() {
        for n in 0..70 {
            let mut v = vec![7u8; n];
            pad32(&mut v);
            assert_eq!(v.len() % 32, 0);
            assert_eq!(unpad32(&v).map(<[u8]>::len), Ok(n));
        }
        assert!(unpad32(&[0u8; 32]).is_err());
        assert!(unpad32(&[33u8; 64]).is_err());
    }

    #[test]
    fn round_trip_and_appid() {
        let c = MsgCrypt::new(KEY, "wx1234").expect("key");
        let e = c.encrypt("<xml>你好</xml>".as_bytes());
        assert_eq!(c.open(&e).expect("decrypts"), "<xml>你好</xml>".as_bytes());
        let other = MsgCrypt::new(KEY, "wxother").expect("key");
        assert!(other.open(&e).is_err());
        assert!(MsgCrypt::new("short", "wx").is_err());
    }

    #[test]
    fn debug_hides_the_key() {
        let c = MsgCrypt::new(KEY, "wx1234").expect("key");
        assert_eq!(format!("{c:?}"), r#"MsgCrypt { key: <redacted>, appid: "wx1234" }"#);
    }
}

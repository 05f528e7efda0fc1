//! Identifiers and random tokens.
//!
//! Resource ids use lowercase letters and digits only and start with a
//! letter, so an agent id is a valid DNS label (`openclaw-<id>.agents.<domain>`).

use rand::distributions::{Alphanumeric, Distribution, Uniform};
use rand::rngs::OsRng;
use rand::Rng;

const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Number of random characters after an id's prefix: 36^16 is about 2^82.
const ID_RANDOM_LEN: usize = 16;

/// Returns a new id such as `ag5k2m...`: the prefix followed by 16 random
/// lowercase letters and digits.
pub fn new_id(prefix: &str) -> String {
    debug_assert!(is_valid_id_prefix(prefix));
    let pick = Uniform::from(0..ID_ALPHABET.len());
    let random: String = (0..ID_RANDOM_LEN)
        .map(|_| ID_ALPHABET[pick.sample(&mut OsRng)] as char)
        .collect();
    format!("{prefix}{random}")
}

fn is_valid_id_prefix(prefix: &str) -> bool {
    !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_lowercase())
}

/// Returns true when `id` could be a resource id: 1 to 63 lowercase letters
/// or digits, starting with a letter.
pub fn is_valid_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Returns `len` random base62 characters from the operating system's CSPRNG.
pub fn random_base62(len: usize) -> String {
    OsRng
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_id_is_dns_label() {
        for _ in 0..100 {
            let id = new_id("ag");
            assert!(is_valid_id(&id), "{id}");
            assert_eq!(id.len(), 2 + ID_RANDOM_LEN);
        }
    }

    #[test]
    fn invalid_ids_rejected() {
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("1abc"));
        assert!(!is_valid_id("Abc"));
        assert!(!is_valid_id("ab-c"));
        assert!(!is_valid_id(&"a".repeat(64)));
    }

    #[test]
    fn random_base62_has_requested_length() {
        let token = random_base62(40);
        assert_eq!(token.len(), 40);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}

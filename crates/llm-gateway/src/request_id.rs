use rand::Rng;

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Generates a request id of lowercase letters and digits, like all GoPilot ids.
pub(crate) fn new_request_id() -> String {
    let mut rng = rand::thread_rng();
    let suffix: String = (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("llmreq{suffix}")
}

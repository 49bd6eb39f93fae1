//! The base64 runs of a text that may hide a secret: the pre-check of the base64 rule of redaction
//! and the leak scan (`docs/specs/reports.md` §6.7, `python/fastcap/secrets/patterns.py`).
//!
//! A run is at least [`MIN_RUN`] characters of the standard or URL-safe base64 alphabet (padding
//! not included). It is a candidate when its decoding from one of its first four characters is
//! ASCII and at least [`MIN_SECRET`] bytes long, or holds [`MIN_SECRET`] printable ASCII bytes in a
//! row (a secret does; random base64 almost never does). Python then decodes only the candidates
//! and runs the secret expressions on them. Done here because a text made of alphanumeric words
//! (code, hashes, a log) is one run after another: the Python pre-check spent 25 s on a 25 MB body.

/// The shortest run looked at: the base64 of the shortest secret (an AWS key id, 20 characters).
pub const MIN_RUN: usize = 24;
/// Printable ASCII bytes in a row that make a decoded run a candidate.
pub const MIN_SECRET: usize = 20;

const INVALID: u8 = 0xff;

/// The 6-bit value of each byte of the standard and URL-safe alphabets; [`INVALID`] otherwise.
const SEXTETS: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = i as u8;
        t[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'-' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b'_' as usize] = 63;
    t
};

fn printable(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\r' | 0x20..=0x7e)
}

/// Decodes `run` (alphabet characters only) as Python's `binascii.a2b_base64` decodes it once
/// padded: a last lone character is dropped, two or three give one or two bytes.
fn decode_into(run: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut chunks = run.chunks_exact(4);
    for q in &mut chunks {
        let n = (u32::from(SEXTETS[q[0] as usize]) << 18)
            | (u32::from(SEXTETS[q[1] as usize]) << 12)
            | (u32::from(SEXTETS[q[2] as usize]) << 6)
            | u32::from(SEXTETS[q[3] as usize]);
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    let rest = chunks.remainder();
    if rest.len() >= 2 {
        let mut n = (u32::from(SEXTETS[rest[0] as usize]) << 18) | (u32::from(SEXTETS[rest[1] as usize]) << 12);
        out.push((n >> 16) as u8);
        if rest.len() == 3 {
            n |= u32::from(SEXTETS[rest[2] as usize]) << 6;
            out.push((n >> 8) as u8);
        }
    }
}

fn is_candidate(decoded: &[u8]) -> bool {
    if decoded.is_ascii() {
        return decoded.len() >= MIN_SECRET;
    }
    let mut streak = 0;
    for &b in decoded {
        if printable(b) {
            streak += 1;
            if streak >= MIN_SECRET {
                return true;
            }
        } else {
            streak = 0;
        }
    }
    false
}

/// (start, end) of every candidate run of `data`, in order; with `first`, at most one.
pub fn candidate_runs(data: &[u8], first: bool) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut decoded = Vec::new();
    let mut i = 0;
    while i < data.len() {
        if SEXTETS[data[i] as usize] == INVALID {
            i += 1;
            continue;
        }
        let start = i;
        while i < data.len() && SEXTETS[data[i] as usize] != INVALID {
            i += 1;
        }
        if i - start < MIN_RUN {
            continue;
        }
        let run = &data[start..i];
        let hit = (0..4).any(|shift| {
            decode_into(&run[shift..], &mut decoded);
            is_candidate(&decoded)
        });
        if hit {
            found.push((start, i));
            if first {
                break;
            }
        }
    }
    found
}

/// The texts a secret may hide in, of one run (alphabet characters; padding and any byte outside
/// the alphabet are skipped) decoded from each of its first four characters: the whole decoding
/// when it is ASCII and at least [`MIN_SECRET`] bytes long, else its runs of [`MIN_SECRET`]
/// printable ASCII bytes or more joined by `\n`; none when it has neither. What the secret
/// expressions are then run on (the same test as [`candidate_runs`], so one decoder serves both).
pub fn decoded_texts(run: &[u8]) -> Vec<String> {
    let run: Vec<u8> = run.iter().copied().filter(|&b| SEXTETS[b as usize] != INVALID).collect();
    let mut decoded = Vec::new();
    let mut texts = Vec::new();
    for shift in 0..4.min(run.len()) {
        decode_into(&run[shift..], &mut decoded);
        if decoded.is_ascii() {
            if decoded.len() >= MIN_SECRET {
                texts.push(String::from_utf8_lossy(&decoded).into_owned());
            }
            continue;
        }
        let mut spans: Vec<&[u8]> = Vec::new();
        let mut start = None;
        for (k, &b) in decoded.iter().chain(std::iter::once(&0)).enumerate() {
            match (printable(b), start) {
                (true, None) => start = Some(k),
                (false, Some(s)) => {
                    if k - s >= MIN_SECRET {
                        spans.push(&decoded[s..k]);
                    }
                    start = None;
                }
                _ => {}
            }
        }
        if !spans.is_empty() {
            texts.push(String::from_utf8_lossy(&spans.join(&b'\n')).into_owned());
        }
    }
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for c in s.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for k in 0..=c.len() {
                out.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
            }
        }
        out
    }

    #[test]
    fn decoded_texts_read_each_alignment_and_printable_spans() {
        let secret = b64(b"sk-ant-api03-FAKEFAKEFAKEFAKEFAKE");
        assert!(decoded_texts(secret.as_bytes()).contains(&"sk-ant-api03-FAKEFAKEFAKEFAKEFAKE".to_string()));
        // Glued to a word: only the alignment of the secret's own first character reads it.
        let glued = format!("Q{secret}");
        assert!(decoded_texts(glued.as_bytes()).iter().any(|t| t.contains("sk-ant-api03-FAKE")));
        // Binary around the secret: the printable span alone.
        let mut raw = vec![0xffu8, 0x00, 0x81];
        raw.extend_from_slice(b"AKIAFAKEFAKEFAKEFAKE1");
        raw.extend_from_slice(&[0x00, 0xfe, 0x80]);
        assert!(decoded_texts(b64(&raw).as_bytes()).contains(&"AKIAFAKEFAKEFAKEFAKE1".to_string()));
        assert!(decoded_texts(b"short").is_empty());
    }

    #[test]
    fn finds_encoded_text_at_any_alignment() {
        let secret = b64(b"sk-ant-api03-FAKEFAKEFAKEFAKEFAKE");
        let text = format!("key: {secret}== and x/v1/keys/Q{secret} end");
        let runs = candidate_runs(text.as_bytes(), false);
        assert_eq!(runs.len(), 2);
        assert_eq!(&text[runs[0].0..runs[0].1], secret);
        assert_eq!(runs, candidate_runs(text.as_bytes(), false));
        assert_eq!(candidate_runs(text.as_bytes(), true).len(), 1);
    }

    #[test]
    fn skips_short_runs_and_binary() {
        assert!(candidate_runs(b"abcdefghijklmnopqrstuvw", false).is_empty()); // 23 characters
        let noise = b64(&(0u32..300).map(|i| 0x80 | (i * 37 % 128) as u8).collect::<Vec<_>>());
        assert!(candidate_runs(noise.as_bytes(), false).is_empty());
        assert!(candidate_runs(b"", false).is_empty());
    }

    #[test]
    fn decodes_like_a2b_base64() {
        let mut out = Vec::new();
        decode_into(b"aGVsbG8", &mut out); // "hello" without padding
        assert_eq!(out, b"hello");
        decode_into(b"aGVsbG8hI", &mut out); // a lone last character is dropped
        assert_eq!(out, b"hello!");
        decode_into(b"a-_A", &mut out); // URL-safe characters
        assert_eq!(out, [0x6b, 0xef, 0xc0]);
    }
}

//! The root helper's only input from the prober: arbitrary bytes through the frame splitter
//! and the request decoder must give requests or errors, never a panic or an unbounded
//! allocation; whatever decodes must encode back to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scamper_proto::{decode_request, encode_request, FrameBuf, MAX_REQUEST_FRAME};

fuzz_target!(|data: &[u8]| {
    let mut frames = FrameBuf::new(MAX_REQUEST_FRAME);
    // Split the input at a data-dependent point so partial frames are exercised too.
    let cut = data.first().map(|&b| b as usize % (data.len() + 1)).unwrap_or(0);
    for chunk in [&data[..cut], &data[cut..]] {
        frames.push(chunk);
        loop {
            match frames.next_frame() {
                Ok(Some(body)) => {
                    if let Ok(req) = decode_request(&body) {
                        let frame = encode_request(&req);
                        assert_eq!(&frame[4..], &body[..], "re-encoding differs");
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});

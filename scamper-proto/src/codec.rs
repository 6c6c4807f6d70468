//! The one place that knows how messages become bytes. Frames are a 4-byte big-endian length
//! followed by a bincode 2 body with a size limit, so swapping the encoding touches only this file.

use crate::{FromHelper, Request, MAX_HELPER_FRAME, MAX_REQUEST_FRAME};
use bincode::config::{self, Configuration, Fixint, Limit, LittleEndian};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("frame of {0} bytes exceeds the limit of {1}")]
    TooLarge(usize, usize),
    #[error("truncated frame")]
    Truncated,
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("{0} trailing bytes after message")]
    Trailing(usize),
}

type Cfg<const N: usize> = Configuration<LittleEndian, Fixint, Limit<N>>;

fn cfg<const N: usize>() -> Cfg<N> {
    config::standard()
        .with_little_endian()
        .with_fixed_int_encoding()
        .with_limit::<N>()
}

fn encode<T: serde::Serialize, const N: usize>(msg: &T) -> Vec<u8> {
    let body = bincode::serde::encode_to_vec(msg, cfg::<N>())
        .expect("our own messages always fit their frame limit");
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Length announced by a frame header, checked against `max`.
pub fn frame_len(header: [u8; 4], max: usize) -> Result<usize, CodecError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > max {
        return Err(CodecError::TooLarge(len, max));
    }
    Ok(len)
}

fn decode<T: serde::de::DeserializeOwned, const N: usize>(body: &[u8]) -> Result<T, CodecError> {
    if body.len() > N {
        return Err(CodecError::TooLarge(body.len(), N));
    }
    let (msg, used) = bincode::serde::decode_from_slice(body, cfg::<N>()).map_err(|e| match e {
        bincode::error::DecodeError::UnexpectedEnd { .. } => CodecError::Truncated,
        other => CodecError::Malformed(other.to_string()),
    })?;
    if used != body.len() {
        return Err(CodecError::Trailing(body.len() - used));
    }
    Ok(msg)
}

/// A complete frame (header + body) for a request.
pub fn encode_request(req: &Request) -> Vec<u8> {
    encode::<_, MAX_REQUEST_FRAME>(req)
}

/// Decode a request body (without its 4-byte header).
pub fn decode_request(body: &[u8]) -> Result<Request, CodecError> {
    decode::<_, MAX_REQUEST_FRAME>(body)
}

/// A complete frame (header + body) for a helper message.
pub fn encode_from_helper(msg: &FromHelper) -> Vec<u8> {
    encode::<_, MAX_HELPER_FRAME>(msg)
}

/// Decode a helper message body (without its 4-byte header).
pub fn decode_from_helper(body: &[u8]) -> Result<FromHelper, CodecError> {
    decode::<_, MAX_HELPER_FRAME>(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;
    use proptest::prelude::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn arb_family() -> impl Strategy<Value = Family> {
        prop_oneof![Just(Family::Inet), Just(Family::Inet6)]
    }
    fn arb_proto() -> impl Strategy<Value = FwProto> {
        prop_oneof![Just(FwProto::Tcp), Just(FwProto::Udp)]
    }
    fn arb_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
            any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        ]
    }
    fn arb_request() -> impl Strategy<Value = Request> {
        prop_oneof![
            any::<u32>().prop_map(|version| Request::Hello { version }),
            arb_family().prop_map(|family| Request::OpenIcmp { family }),
            arb_family().prop_map(|family| Request::OpenRawIp { family }),
            any::<u32>().prop_map(|ifindex| Request::OpenDatalink { ifindex }),
            Just(Request::OpenRouteSocket),
            Just(Request::BindControlUnix),
            Just(Request::BindControlTcp),
            prop_oneof![
                Just(ReopenFile::Config),
                Just(ReopenFile::ResolvConf),
                any::<u16>().prop_map(ReopenFile::DoNotProbe)
            ]
            .prop_map(|file| Request::Reopen { file }),
            (
                any::<u32>(),
                arb_proto(),
                arb_ip(),
                arb_ip(),
                any::<u16>(),
                any::<u16>()
            )
                .prop_map(|(slot, proto, src, dst, sport, dport)| {
                    Request::FirewallAdd {
                        slot,
                        proto,
                        src,
                        dst,
                        sport,
                        dport,
                    }
                }),
            any::<u32>().prop_map(|slot| Request::FirewallDelete { slot }),
            Just(Request::Ready),
            any::<bool>().prop_map(|ok| Request::Reloaded { ok }),
        ]
    }

    proptest! {
        #[test]
        fn request_round_trip(req in arb_request()) {
            let frame = encode_request(&req);
            let len = frame_len(frame[..4].try_into().unwrap(), MAX_REQUEST_FRAME).unwrap();
            prop_assert_eq!(len, frame.len() - 4);
            prop_assert_eq!(decode_request(&frame[4..]).unwrap(), req);
        }

        #[test]
        fn request_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = decode_request(&bytes);
        }

        #[test]
        fn truncated_requests_are_errors(req in arb_request(), cut in 1usize..8) {
            let frame = encode_request(&req);
            let body = &frame[4..];
            if cut <= body.len() {
                prop_assert!(decode_request(&body[..body.len() - cut]).is_err());
            }
        }
    }

    #[test]
    fn oversized_frames_are_refused() {
        let header = ((MAX_REQUEST_FRAME + 1) as u32).to_be_bytes();
        assert_eq!(
            frame_len(header, MAX_REQUEST_FRAME),
            Err(CodecError::TooLarge(
                MAX_REQUEST_FRAME + 1,
                MAX_REQUEST_FRAME
            ))
        );
        let body = vec![0u8; MAX_REQUEST_FRAME + 1];
        assert!(matches!(
            decode_request(&body),
            Err(CodecError::TooLarge(..))
        ));
    }

    #[test]
    fn unknown_variant_and_trailing_bytes_are_errors() {
        // variant index 200 does not exist
        assert!(matches!(
            decode_request(&[200, 0, 0, 0]),
            Err(CodecError::Malformed(_))
        ));
        let mut frame = encode_request(&Request::OpenRouteSocket);
        frame.push(0);
        assert_eq!(decode_request(&frame[4..]), Err(CodecError::Trailing(1)));
    }

    #[test]
    fn helper_messages_round_trip() {
        for msg in [
            FromHelper::Hello {
                version: PROTO_VERSION,
            },
            FromHelper::Done,
            FromHelper::Refused(Refusal::Errno(13)),
            FromHelper::Refused(Refusal::Policy("no such interface".into())),
            FromHelper::Refused(Refusal::Unsupported),
            FromHelper::Reload,
            FromHelper::Exit,
        ] {
            let frame = encode_from_helper(&msg);
            assert_eq!(decode_from_helper(&frame[4..]).unwrap(), msg);
        }
    }
}

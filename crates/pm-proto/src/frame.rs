//! Frames: one encoded envelope per WebSocket binary frame, and the reply envelopes.

use prost::Message;

use crate::pb::{self, reply, server_message};
use crate::{Error, Result};

/// Encodes any message (normally a [`pb::ServerMessage`] or [`pb::ClientMessage`]) for one frame.
pub fn encode(message: &impl Message) -> Vec<u8> {
    message.encode_to_vec()
}

/// Decodes a frame received by the server.
///
/// A frame that decodes but names no command is still `Ok`: its `request_id` is needed to answer
/// it with `INVALID_MESSAGE`, so that check belongs to the caller.
pub fn decode_client(bytes: &[u8]) -> Result<pb::ClientMessage> {
    pb::ClientMessage::decode(bytes).map_err(Error::Decode)
}

/// Decodes a frame received by a client.
pub fn decode_server(bytes: &[u8]) -> Result<pb::ServerMessage> {
    pb::ServerMessage::decode(bytes).map_err(Error::Decode)
}

/// The successful reply to request `request_id`: any response message, or a `reply::Result`.
pub fn reply_ok(request_id: &str, result: impl Into<reply::Result>) -> pb::ServerMessage {
    reply(request_id, result.into())
}

/// The failed reply to request `request_id`.
pub fn reply_error(request_id: &str, error: pb::Error) -> pb::ServerMessage {
    reply(request_id, reply::Result::Error(error))
}

fn reply(request_id: &str, result: reply::Result) -> pb::ServerMessage {
    pb::ServerMessage {
        message: Some(server_message::Message::Reply(pb::Reply {
            request_id: request_id.to_owned(),
            events: Vec::new(),
            result: Some(result),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Request;

    #[test]
    fn a_client_message_survives_a_frame() {
        let sent = pb::ClientMessage::request(
            "0197a1c2-0000-7000-8000-000000000001",
            pb::Subscribe {
                project_id: "p".into(),
                since: Some(41),
                history_epoch: "e".into(),
            },
        );
        assert_eq!(decode_client(&encode(&sent)), Ok(sent));
    }

    #[test]
    fn a_reply_carries_the_request_id_and_the_typed_response() {
        let frame = encode(&reply_ok(
            "r-7",
            pb::Pong {
                server_time: 1_767_225_600_000,
            },
        ));
        let Some(server_message::Message::Reply(reply)) = decode_server(&frame).unwrap().message
        else {
            panic!("not a reply");
        };
        assert_eq!(reply.request_id, "r-7");
        let pong = pb::Ping::response_from(reply.result.unwrap()).unwrap();
        assert_eq!(pong.server_time, 1_767_225_600_000);
    }

    #[test]
    fn an_error_reply_carries_the_request_id_and_the_error() {
        let error = pb::Error {
            code: pb::ErrorCode::NotFound.into(),
            message: "no such work item".into(),
            ..Default::default()
        };
        let message = reply_error("r-8", error.clone());
        let Some(server_message::Message::Reply(reply)) = message.message else {
            panic!("not a reply");
        };
        assert_eq!(reply.request_id, "r-8");
        assert_eq!(reply.result, Some(reply::Result::Error(error)));
    }

    #[test]
    fn a_frame_that_is_not_protobuf_is_a_decode_error() {
        let err = decode_client(b"{\"json\": true}").unwrap_err();
        assert!(matches!(err, Error::Decode(_)));
        assert_eq!(err.code(), pb::ErrorCode::InvalidMessage);
    }

    #[test]
    fn an_empty_frame_decodes_to_a_message_without_a_command() {
        let message = decode_client(&[]).unwrap();
        assert!(message.command.is_none());
        assert!(message.request_id.is_empty());
    }
}

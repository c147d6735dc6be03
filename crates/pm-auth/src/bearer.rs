//! Where a bearer token travels: the `Authorization` header for HTTP, and the
//! `Sec-WebSocket-Protocol` header for WebSockets, because a browser's `WebSocket` cannot set any
//! other header.

/// The WebSocket subprotocol of pm's protobuf protocol, version 1: the one the server echoes back.
/// See [`token_from_subprotocols`] for the convention.
pub const PROTOCOL_NAME: &str = "pm.v1";

/// The prefix of the subprotocol entry that carries the token: `bearer.<jwt>`.
pub const BEARER_PROTOCOL_PREFIX: &str = "bearer.";

/// The token of an `Authorization: Bearer <token>` header value. The scheme is matched without
/// regard to case (RFC 9110 §11.1) and surrounding spaces are ignored; anything other than one
/// non-empty token after the scheme yields `None`.
pub fn bearer_from_header(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once([' ', '\t'])?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim_start();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return None;
    }
    Some(token)
}

/// The token carried in a `Sec-WebSocket-Protocol` header value as a `bearer.<jwt>` entry, or
/// `None` when there is no such entry, its token is empty, or there is more than one.
///
/// # The convention
///
/// A client opening `/ws` offers two subprotocols, in any order:
///
/// ```text
/// Sec-WebSocket-Protocol: pm.v1, bearer.<jwt>
/// ```
///
/// In a browser: `new WebSocket(url, ["pm.v1", "bearer." + token])`. A JWT is three base64url
/// segments joined by `.`, and every one of those characters is allowed in a subprotocol name
/// (an RFC 7230 `token`), so the JWT is carried verbatim.
///
/// The server takes the token with this function, checks with [`offers_protocol`] that the
/// client speaks [`PROTOCOL_NAME`], and answers `Sec-WebSocket-Protocol: pm.v1`. It must
/// never echo the `bearer.` entry: that would send the credential back in a response header, and
/// the browser accepts only a protocol it offered, which `pm.v1` is. A client that does not offer
/// `pm.v1` is refused before the upgrade.
///
/// If the header arrives as several header lines, the server joins them with `,` first (that is
/// what HTTP defines repeated list headers to mean). Exactly one `bearer.` entry is allowed; two
/// are ambiguous and yield no token at all.
pub fn token_from_subprotocols(header_value: &str) -> Option<&str> {
    let mut found = None;
    for offered in header_value.split(',').map(str::trim) {
        if let Some(token) = offered.strip_prefix(BEARER_PROTOCOL_PREFIX) {
            if token.is_empty() || found.is_some() {
                return None;
            }
            found = Some(token);
        }
    }
    found
}

/// Whether a `Sec-WebSocket-Protocol` header value offers [`PROTOCOL_NAME`], so that the server may
/// echo it back.
pub fn offers_protocol(header_value: &str) -> bool {
    header_value
        .split(',')
        .map(str::trim)
        .any(|offered| offered == PROTOCOL_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_header_yields_its_token_whatever_the_case_of_the_scheme() {
        for value in [
            "Bearer abc.def.ghi",
            "bearer abc.def.ghi",
            "BEARER abc.def.ghi",
        ] {
            assert_eq!(bearer_from_header(value), Some("abc.def.ghi"), "{value:?}");
        }
    }

    #[test]
    fn extra_spaces_around_the_bearer_token_are_ignored() {
        for value in [
            "  Bearer abc.def.ghi",
            "Bearer    abc.def.ghi",
            "Bearer abc.def.ghi   ",
            "Bearer\tabc.def.ghi",
        ] {
            assert_eq!(bearer_from_header(value), Some("abc.def.ghi"), "{value:?}");
        }
    }

    #[test]
    fn a_missing_or_foreign_authorization_yields_no_bearer_token() {
        for value in [
            "",
            "   ",
            "Bearer",
            "Bearer ",
            "Bearer    ",
            "Basic dXNlcjpwYXNz",
            "Bearerabc.def.ghi",
            "Token abc.def.ghi",
            "Bearer abc def",
            "abc.def.ghi",
        ] {
            assert_eq!(bearer_from_header(value), None, "{value:?}");
        }
    }

    #[test]
    fn the_subprotocol_token_is_found_in_either_order() {
        assert_eq!(
            token_from_subprotocols("pm.v1, bearer.abc.def.ghi"),
            Some("abc.def.ghi")
        );
        assert_eq!(
            token_from_subprotocols("bearer.abc.def.ghi, pm.v1"),
            Some("abc.def.ghi")
        );
    }

    #[test]
    fn whitespace_around_subprotocols_is_ignored() {
        assert_eq!(
            token_from_subprotocols("  pm.v1 ,\tbearer.abc.def.ghi  "),
            Some("abc.def.ghi")
        );
        assert_eq!(
            token_from_subprotocols("pm.v1,bearer.abc.def.ghi"),
            Some("abc.def.ghi")
        );
        assert!(offers_protocol(" bearer.abc.def.ghi ,  pm.v1 "));
    }

    #[test]
    fn no_subprotocol_token_is_found_when_it_is_absent_empty_or_ambiguous() {
        for value in [
            "",
            "pm.v1",
            "pm.v1, bearer.",
            "pm.v1, bearer",
            "pm.v1, Bearer.abc.def.ghi",
            "pm.v1, bearer.abc.def.ghi, bearer.xyz.def.ghi",
        ] {
            assert_eq!(token_from_subprotocols(value), None, "{value:?}");
        }
    }

    #[test]
    fn the_pm_protocol_must_be_offered_exactly() {
        assert!(offers_protocol("pm.v1"));
        assert!(offers_protocol("bearer.abc.def.ghi, pm.v1"));
        for value in [
            "",
            "bearer.abc.def.ghi",
            "pm.v2",
            "PM.V1",
            "pm.v1x",
            "xpm.v1",
        ] {
            assert!(!offers_protocol(value), "{value:?}");
        }
    }
}

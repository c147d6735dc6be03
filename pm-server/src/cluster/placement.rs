//! Which node owns which tenant: the placement file, read by HAProxy (as a map file) and by every
//! node, so both sides always agree.
//!
//! The file holds `key value` lines (HAProxy map syntax; `#` starts a comment). A line
//! `<tenant_id> <node>` places one tenant explicitly. Every other tenant is placed by its bucket:
//! `crc32(tenant_id) mod BUCKETS`, where crc32 is the IEEE CRC-32 of the id's bytes (Ethernet,
//! gzip, PNG; HAProxy's `crc32` converter computes the same), and a line `@<bucket> <node>` names
//! the bucket's node. Tenant ids never start with `@`, so the two kinds of keys cannot collide.
//! Buckets make the default placement consistent: adding a node moves only the buckets given to
//! it, and the tenants in them, never anything else.

use std::collections::HashMap;
use std::fmt;

use pm_core::TenantId;

/// How many buckets the default placement hashes tenants into. HAProxy's configuration repeats
/// this number (`mod(64)`); changing it moves most tenants.
pub const BUCKETS: u32 = 64;

/// The prefix of a bucket's key in the placement file.
pub const BUCKET_PREFIX: char = '@';

/// A node's name: lower-case letters, digits, `-` and `_`, at most 64 characters. It is also the
/// name of the node's backend in HAProxy's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeName(String);

impl NodeName {
    pub fn parse(text: &str) -> Result<Self, PlacementError> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(PlacementError::NodeName(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for NodeName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for NodeName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is wrong with a placement file, naming the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementError {
    NodeName(String),
    Line { line: usize, problem: &'static str },
    Duplicate { line: usize, key: String },
    MissingBuckets(Vec<u32>),
}

impl fmt::Display for PlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NodeName(name) => write!(
                f,
                "{name:?} is not a node name (lower-case letters, digits, '-' and '_')"
            ),
            Self::Line { line, problem } => write!(f, "line {line}: {problem}"),
            Self::Duplicate { line, key } => write!(f, "line {line}: {key} is placed twice"),
            Self::MissingBuckets(buckets) => {
                write!(
                    f,
                    "no node for the buckets {buckets:?} (every bucket from @0 to @{} needs one)",
                    BUCKETS - 1
                )
            }
        }
    }
}

impl std::error::Error for PlacementError {}

/// The parsed placement file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    tenants: HashMap<TenantId, NodeName>,
    buckets: Vec<NodeName>,
}

impl Placement {
    /// Parses a placement file. Every bucket must have a node, so every tenant has an owner.
    pub fn parse(text: &str) -> Result<Self, PlacementError> {
        let mut tenants = HashMap::new();
        let mut buckets: Vec<Option<NodeName>> = vec![None; BUCKETS as usize];
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let mut words = content.split_whitespace();
            let (Some(key), Some(value), None) = (words.next(), words.next(), words.next()) else {
                return Err(PlacementError::Line {
                    line,
                    problem: "expected `<tenant_id> <node>` or `@<bucket> <node>`",
                });
            };
            let node = NodeName::parse(value).map_err(|_| PlacementError::Line {
                line,
                problem: "the node name must be lower-case letters, digits, '-' and '_'",
            })?;
            if let Some(number) = key.strip_prefix(BUCKET_PREFIX) {
                let bucket = number
                    .parse::<u32>()
                    .ok()
                    .filter(|b| *b < BUCKETS && number == b.to_string())
                    .ok_or(PlacementError::Line {
                        line,
                        problem: "a bucket is @0 to @63",
                    })?;
                let slot = &mut buckets[bucket as usize];
                if slot.is_some() {
                    return Err(PlacementError::Duplicate {
                        line,
                        key: key.to_owned(),
                    });
                }
                *slot = Some(node);
            } else {
                let tenant = TenantId::parse(key).map_err(|_| PlacementError::Line {
                    line,
                    problem: "not a tenant id",
                })?;
                if tenants.insert(tenant, node).is_some() {
                    return Err(PlacementError::Duplicate {
                        line,
                        key: key.to_owned(),
                    });
                }
            }
        }
        let missing: Vec<u32> = (0..BUCKETS)
            .filter(|b| buckets[*b as usize].is_none())
            .collect();
        if !missing.is_empty() {
            return Err(PlacementError::MissingBuckets(missing));
        }
        Ok(Self {
            tenants,
            buckets: buckets.into_iter().flatten().collect(),
        })
    }

    /// The node that owns `tenant`: its explicit entry, else its bucket's node.
    pub fn owner(&self, tenant: &TenantId) -> &NodeName {
        self.tenants
            .get(tenant)
            .unwrap_or_else(|| &self.buckets[bucket(tenant) as usize])
    }

    /// Every node the file names.
    pub fn nodes(&self) -> Vec<&NodeName> {
        let mut nodes: Vec<&NodeName> = self.buckets.iter().chain(self.tenants.values()).collect();
        nodes.sort_by_key(|n| n.as_str());
        nodes.dedup();
        nodes
    }
}

/// The tenant's bucket: `crc32(tenant_id) mod BUCKETS`, as HAProxy computes it with
/// `crc32,mod(64)`.
pub fn bucket(tenant: &TenantId) -> u32 {
    crc32(tenant.as_str().as_bytes()) % BUCKETS
}

/// The IEEE CRC-32 (reflected polynomial 0xEDB88320, initial value and final XOR all ones).
/// Bitwise: tenant ids are short, and a table would be more code to get wrong.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// `text` with the explicit entry of `tenant` set to `node`: an existing line is replaced in
/// place, otherwise a line is appended. Comments and every other line are kept as they are.
pub fn with_entry(text: &str, tenant: &TenantId, node: &NodeName) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut replaced = false;
    for line in text.lines() {
        let key = line
            .split('#')
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .next();
        if key == Some(tenant.as_str()) {
            if !replaced {
                out.push_str(&format!("{tenant} {node}\n"));
                replaced = true;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !replaced {
        out.push_str(&format!("{tenant} {node}\n"));
    }
    out
}

/// A placement file spreading the buckets over `nodes` in turn (for a first setup; the example
/// in `deploy/haproxy/placement.map` is one).
pub fn spread(nodes: &[NodeName]) -> String {
    let mut out = String::from("# pm placement: `<tenant_id> <node>` or `@<bucket> <node>`\n");
    for b in 0..BUCKETS {
        let node = &nodes[b as usize % nodes.len()];
        out.push_str(&format!("{BUCKET_PREFIX}{b} {node}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(s: &str) -> TenantId {
        TenantId::parse(s).unwrap()
    }

    fn nodes(names: &[&str]) -> Vec<NodeName> {
        names.iter().map(|n| NodeName::parse(n).unwrap()).collect()
    }

    #[test]
    fn crc32_is_the_ieee_checksum() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn an_explicit_entry_overrides_the_bucket() {
        let text = spread(&nodes(&["node1", "node2"]));
        let t = tenant("acme");
        let placement = Placement::parse(&text).unwrap();
        let by_bucket = placement.owner(&t).clone();
        let other = if by_bucket.as_str() == "node1" {
            "node2"
        } else {
            "node1"
        };
        let moved = with_entry(&text, &t, &NodeName::parse(other).unwrap());
        assert_eq!(Placement::parse(&moved).unwrap().owner(&t).as_str(), other);
        // Setting it again replaces the line instead of adding a duplicate.
        let back = with_entry(&moved, &t, &by_bucket);
        assert_eq!(Placement::parse(&back).unwrap().owner(&t), &by_bucket);
        assert_eq!(back.lines().count(), moved.lines().count());
    }

    #[test]
    fn a_file_without_a_node_for_every_bucket_is_refused() {
        let text: String = spread(&nodes(&["a"]))
            .lines()
            .filter(|l| *l != "@7 a")
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            Placement::parse(&text),
            Err(PlacementError::MissingBuckets(vec![7]))
        );
    }

    #[test]
    fn malformed_lines_are_refused_with_their_number() {
        let base = spread(&nodes(&["a"]));
        // The spread file has a comment and 64 bucket lines; a blank line, then the bad one.
        for bad in [
            "@64 a",
            "@07 a",
            "acme",
            "acme a b",
            "Acme a",
            "acme Node",
            "@3 b",
        ] {
            let line = 67;
            let text = format!("{base}\n{bad}\n");
            match Placement::parse(&text) {
                Err(
                    PlacementError::Line { line: l, .. }
                    | PlacementError::Duplicate { line: l, .. },
                ) => {
                    assert_eq!(l, line, "{bad}");
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn adding_a_node_moves_only_the_buckets_given_to_it() {
        let two = Placement::parse(&spread(&nodes(&["n1", "n2"]))).unwrap();
        // Give the new node every third bucket, keeping the rest where it was.
        let mut text = String::new();
        for b in 0..BUCKETS {
            let node = if b % 3 == 0 {
                "n3".to_owned()
            } else {
                two.buckets[b as usize].to_string()
            };
            text.push_str(&format!("@{b} {node}\n"));
        }
        let three = Placement::parse(&text).unwrap();
        for i in 0..500 {
            let t = tenant(&format!("t{i}"));
            if three.owner(&t).as_str() != "n3" {
                assert_eq!(
                    three.owner(&t),
                    two.owner(&t),
                    "{t} moved between old nodes"
                );
            }
        }
    }
}

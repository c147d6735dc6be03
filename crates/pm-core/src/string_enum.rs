/// Declares a closed enum whose variants round-trip losslessly through fixed strings: the form
/// stored in SQLite (and checked there by a CHECK constraint), written in JSON and shown in errors.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, field = $field:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> $crate::RuleResult<Self> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => {
                        // "expected one of: a, b, c": the list with its last ", " cut off.
                        const LIST: &str = concat!("expected one of: ", $($text, ", "),+);
                        const REASON: &str = LIST.split_at(LIST.len() - 2).0;
                        Err($crate::RuleViolation::Invalid { field: $field, reason: REASON })
                    }
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::RuleViolation;
            fn from_str(s: &str) -> $crate::RuleResult<Self> {
                Self::parse(s)
            }
        }
    };
}

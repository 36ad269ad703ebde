//! States stored as text: one macro gives each its enum and its one mapping to and from the
//! database words (`as_str`, `of`), diesel `ToSql` on both backends, `Display`, and comparison
//! with a stored `String` (`row.status == ReservationStatus::Active`).

/// `text_enum! { /// doc \n pub enum Name { Variant = "word", Other, ... } }`: a variant without a
/// word is stored as its name.
macro_rules! text_enum {
    (@word $variant:ident $text:literal) => { $text };
    (@word $variant:ident) => { stringify!($variant) };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident $(= $text:literal)?),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, diesel::AsExpression)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every state, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word stored in the database (and shown in the API).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $crate::infra::db::text_enum::text_enum!(@word $variant $($text)?)),+
                }
            }

            /// The state a stored word names (`None`: not one of them).
            pub fn of(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|s| s.as_str() == text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self.as_str() == other.as_str()
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.as_str()
            }
        }

        impl<DB: diesel::backend::Backend> diesel::serialize::ToSql<diesel::sql_types::Text, DB>
            for $name
        where
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                self.as_str().to_sql(out)
            }
        }
    };
}

pub(crate) use text_enum;

/// For tests: every state of a text enum reads back from its word, the words are distinct, and an
/// unknown word is no state.
#[cfg(test)]
pub(crate) fn check_words<T: Copy + PartialEq + std::fmt::Debug>(
    all: &[T],
    word: fn(T) -> &'static str,
    of: fn(&str) -> Option<T>,
) {
    let mut words: Vec<&str> = all.iter().map(|&s| word(s)).collect();
    for &s in all {
        assert_eq!(of(word(s)), Some(s));
    }
    words.sort_unstable();
    words.dedup();
    assert_eq!(words.len(), all.len(), "distinct words");
    assert_eq!(of("no such state"), None);
}

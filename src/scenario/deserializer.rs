//! A serde deserializer over the file's tree of spans, whose errors are data.
//!
//! [`from_tree`] deserializes straight from the [`DeTable`] that
//! [`Source::parse`](super::error::Source::parse) keeps. Each value it hands to a `Deserialize`
//! impl carries its span and its key path, so every error is located where it arises -- a
//! duration that does not parse, raised inside our own impl, as much as a wrong type -- and
//! says what is wrong as a [`Problem`]: the kind of mistake with the names, types and lists
//! involved, never a sentence to take apart. [`super::error`] words the message.
//!
//! The deserializer checks the type a `Deserialize` impl asks for (`deserialize_i64`,
//! `deserialize_struct`, ...) itself, so a mistake names what the file should hold in the
//! file's terms: a whole number, an array, a structure's serde name (see
//! [`super::file`]), or the kinds of an enum.

use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Unexpected, Visitor};
use serde_spanned::de::{SpannedDeserializer, is_spanned};
use toml::Spanned;
use toml::de::{DeArray, DeFloat, DeInteger, DeString, DeTable, DeValue};
use toml::value::Datetime;

use crate::error::PathSegment;

/// Deserializes a whole file from its tree (the tests'; a file is read entry by entry, with
/// [`from_value`]).
///
/// # Errors
/// The first mistake found, located.
#[cfg(test)]
pub(super) fn from_tree<T: DeserializeOwned>(tree: &Spanned<DeTable<'_>>) -> Result<T, Error> {
    let root = ValueDeserializer {
        value: Value::Table(tree.get_ref()),
        span: tree.span(),
        path: &Path::Root,
    };
    T::deserialize(root)
}

/// Deserializes one value of the tree, found at `path` from the root: an entry of a
/// section, deserialized apart from the others so that each entry's mistake is found.
///
/// # Errors
/// The first mistake found in the value, located with its whole path.
pub(super) fn from_value<T: DeserializeOwned>(
    value: &Spanned<DeValue<'_>>,
    path: &[PathSegment],
) -> Result<T, Error> {
    within(&Path::Root, path, &|path| {
        T::deserialize(ValueDeserializer::new(value, path))
    })
}

/// Calls `f` with `segments` appended to `parent`, built on the stack like the
/// deserializer's own paths.
fn within<R>(parent: &Path<'_>, segments: &[PathSegment], f: &dyn Fn(&Path<'_>) -> R) -> R {
    match segments.split_first() {
        None => f(parent),
        Some((PathSegment::Key(key), rest)) => within(&Path::Key(parent, key), rest, f),
        Some((PathSegment::Index(index), rest)) => within(&Path::Index(parent, *index), rest, f),
    }
}

/// A key the top-level table does not take, located at the key.
pub(super) fn unknown_key(
    key: &str,
    expected: &'static [&'static str],
    span: Range<usize>,
) -> Error {
    Error::new(Problem::UnknownKey {
        key: key.to_string(),
        expected,
    })
    .at(&span, &Path::Root)
}

/// A mistake in the file, and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Error {
    problem: Problem,
    /// The span and key path, set by the innermost value, key or table that saw the error.
    at: Option<(Range<usize>, Vec<PathSegment>)>,
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Problem {
    /// A key the table does not take; located at the key, the path names the table.
    UnknownKey {
        key: String,
        expected: &'static [&'static str],
    },
    /// A string that names none of an enum's kinds, where the enum is written as a table
    /// naming its kind (`{ exponential = { mean = "1ms" } }`); located at the string.
    UnknownVariant {
        variant: String,
        expected: &'static [&'static str],
    },
    /// A key the table must have; located at the table.
    MissingKey(&'static str),
    /// A key given twice to one structure (TOML itself rejects a repeated key first).
    DuplicateKey(&'static str),
    /// A value of the wrong type, or of the right type but not a valid one.
    WrongType { found: Found, expected: Expected },
    /// A sequence of the wrong length.
    InvalidLength { length: usize, expected: String },
    /// An integer outside the 64-bit range that TOML allows, as written.
    IntegerOutOfRange(String),
    /// A float too large for 64 bits, as written.
    FloatOutOfRange(String),
    /// An enum written as a table with no key or several: `kinds` are the names it accepts.
    KindCount {
        name: &'static str,
        kinds: &'static [&'static str],
        found: usize,
    },
    /// A `Deserialize` impl's own message, e.g. why a duration does not parse.
    Custom(String),
}

/// What the file holds where something else was expected.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Found {
    Boolean(bool),
    /// As a number when it fits in 64 bits, else as written.
    Integer(String),
    Float(f64),
    String(String),
    Datetime(String),
    Array,
    Table,
    /// Something a TOML file cannot hold, named by a `Deserialize` impl, e.g. a character.
    Other(String),
}

/// What the file should hold.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expected {
    Integer,
    Float,
    String,
    Boolean,
    Array,
    Table,
    /// A table deserialized as a structure: its serde name, which says what it is.
    Struct(&'static str),
    /// An enum's value: a table naming one of these kinds.
    Kinds(&'static [&'static str]),
    /// The value of an enum's kind that has these keys.
    Fields(&'static [&'static str]),
    /// What a `Deserialize` impl's visitor says it expects.
    Other(String),
}

impl Error {
    fn new(problem: Problem) -> Self {
        Error { problem, at: None }
    }

    fn wrong_type(found: Found, expected: Expected) -> Self {
        Error::new(Problem::WrongType { found, expected })
    }

    /// Locates the error here unless something inside already did.
    fn at(mut self, span: &Range<usize>, path: &Path<'_>) -> Self {
        if self.at.is_none() {
            self.at = Some((span.clone(), path.segments()));
        }
        self
    }

    /// What is wrong.
    pub(super) fn problem(&self) -> &Problem {
        &self.problem
    }

    /// The span of the key, value or table at fault (the file's start if none was seen).
    pub(super) fn span(&self) -> Range<usize> {
        self.at.as_ref().map_or(0..0, |(span, _)| span.clone())
    }

    /// The key path of the value or table at fault; for an unknown key, of its table.
    pub(super) fn path(&self) -> &[PathSegment] {
        self.at.as_ref().map_or(&[], |(_, path)| path.as_slice())
    }
}

impl fmt::Display for Error {
    /// For debugging: [`super::error`] words the messages people read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.problem)?;
        if let Some((span, path)) = &self.at {
            write!(f, " at {span:?} {path:?}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Error::new(Problem::Custom(message.to_string()))
    }

    fn invalid_type(found: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Error::wrong_type(found.into(), Expected::Other(expected.to_string()))
    }

    fn invalid_value(found: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Error::wrong_type(found.into(), Expected::Other(expected.to_string()))
    }

    fn invalid_length(length: usize, expected: &dyn de::Expected) -> Self {
        Error::new(Problem::InvalidLength {
            length,
            expected: expected.to_string(),
        })
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Error::new(Problem::UnknownVariant {
            variant: variant.to_string(),
            expected,
        })
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Error::new(Problem::UnknownKey {
            key: field.to_string(),
            expected,
        })
    }

    fn missing_field(field: &'static str) -> Self {
        Error::new(Problem::MissingKey(field))
    }

    fn duplicate_field(field: &'static str) -> Self {
        Error::new(Problem::DuplicateKey(field))
    }
}

impl From<Unexpected<'_>> for Found {
    fn from(unexpected: Unexpected<'_>) -> Self {
        let other = |what: &str| Found::Other(what.to_string());
        match unexpected {
            Unexpected::Bool(b) => Found::Boolean(b),
            Unexpected::Unsigned(n) => Found::Integer(n.to_string()),
            Unexpected::Signed(n) => Found::Integer(n.to_string()),
            Unexpected::Float(x) => Found::Float(x),
            Unexpected::Str(s) => Found::String(s.to_string()),
            Unexpected::Seq => Found::Array,
            Unexpected::Map => Found::Table,
            Unexpected::Char(c) => Found::Other(format!("character `{c}`")),
            Unexpected::Bytes(_) => other("byte array"),
            Unexpected::Unit => other("unit value"),
            Unexpected::Option => other("optional value"),
            Unexpected::NewtypeStruct => other("newtype struct"),
            Unexpected::Enum => other("enum"),
            Unexpected::UnitVariant => other("unit variant"),
            Unexpected::NewtypeVariant => other("newtype variant"),
            Unexpected::TupleVariant => other("tuple variant"),
            Unexpected::StructVariant => other("struct variant"),
            Unexpected::Other(what) => other(what),
        }
    }
}

/// Where a value is: a linked list up to the root, built on the stack as the deserializer
/// descends, turned into segments only for an error.
#[derive(Debug, Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn segments(&self) -> Vec<PathSegment> {
        let mut segments = Vec::new();
        let mut at = self;
        loop {
            match at {
                Path::Root => break,
                Path::Key(parent, key) => {
                    segments.push(PathSegment::Key((*key).to_string()));
                    at = parent;
                }
                Path::Index(parent, index) => {
                    segments.push(PathSegment::Index(*index));
                    at = parent;
                }
            }
        }
        segments.reverse();
        segments
    }
}

/// A value of the tree, borrowed; the root table has no [`DeValue`] of its own.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    String(&'a str),
    Integer(&'a DeInteger<'a>),
    Float(&'a DeFloat<'a>),
    Boolean(bool),
    Datetime(&'a Datetime),
    Array(&'a DeArray<'a>),
    Table(&'a DeTable<'a>),
}

impl<'a> From<&'a DeValue<'a>> for Value<'a> {
    fn from(value: &'a DeValue<'a>) -> Self {
        match value {
            DeValue::String(s) => Value::String(s),
            DeValue::Integer(n) => Value::Integer(n),
            DeValue::Float(x) => Value::Float(x),
            DeValue::Boolean(b) => Value::Boolean(*b),
            DeValue::Datetime(d) => Value::Datetime(d),
            DeValue::Array(array) => Value::Array(array),
            DeValue::Table(table) => Value::Table(table),
        }
    }
}

/// An integer as TOML allows it: 64-bit signed.
fn to_i64(n: &DeInteger<'_>) -> Option<i64> {
    i64::from_str_radix(n.as_str(), n.radix()).ok()
}

/// A float; one too large for 64 bits is an error, unless it is written `inf`.
fn to_f64(x: &DeFloat<'_>) -> Result<f64, Error> {
    match x.as_str().parse::<f64>() {
        Ok(value) if !value.is_infinite() || x.as_str().contains("inf") => Ok(value),
        _ => Err(Error::new(Problem::FloatOutOfRange(x.to_string()))),
    }
}

impl Value<'_> {
    /// This value, to name in a message.
    fn found(&self) -> Found {
        match self {
            Value::String(s) => Found::String((*s).to_string()),
            Value::Integer(n) => Found::Integer(match to_i64(n) {
                Some(value) => value.to_string(),
                None => n.to_string(),
            }),
            Value::Float(x) => Found::Float(to_f64(x).unwrap_or(f64::INFINITY)),
            Value::Boolean(b) => Found::Boolean(*b),
            Value::Datetime(d) => Found::Datetime(d.to_string()),
            Value::Array(_) => Found::Array,
            Value::Table(_) => Found::Table,
        }
    }
}

/// One value of the tree, with its span and path.
struct ValueDeserializer<'a> {
    value: Value<'a>,
    span: Range<usize>,
    path: &'a Path<'a>,
}

impl<'a> ValueDeserializer<'a> {
    fn new(value: &'a Spanned<DeValue<'a>>, path: &'a Path<'a>) -> Self {
        ValueDeserializer {
            value: value.get_ref().into(),
            span: value.span(),
            path,
        }
    }

    fn wrong_type(&self, expected: Expected) -> Error {
        Error::wrong_type(self.value.found(), expected)
    }
}

impl<'de> IntoDeserializer<'de, Error> for ValueDeserializer<'_> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'_> {
    type Error = Error;

    /// What the value is: for impls that take several types, such as a duration.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (span, path) = (self.span.clone(), self.path);
        match self.value {
            Value::String(s) => visitor.visit_str(s),
            // Beyond 64 bits too: an impl may word its own message about the number (a
            // duration without a unit).
            Value::Integer(n) => {
                let text = n.as_str();
                let radix = n.radix();
                if let Some(value) = to_i64(n) {
                    visitor.visit_i64(value)
                } else if let Ok(value) = u64::from_str_radix(text, radix) {
                    visitor.visit_u64(value)
                } else if let Ok(value) = i128::from_str_radix(text, radix) {
                    visitor.visit_i128(value)
                } else if let Ok(value) = u128::from_str_radix(text, radix) {
                    visitor.visit_u128(value)
                } else {
                    Err(Error::new(Problem::IntegerOutOfRange(n.to_string())))
                }
            }
            Value::Float(x) => visitor.visit_f64(to_f64(x)?),
            Value::Boolean(b) => visitor.visit_bool(b),
            Value::Datetime(_) => {
                Err(self.wrong_type(Expected::Other((&visitor as &dyn de::Expected).to_string())))
            }
            Value::Array(array) => visitor.visit_seq(Items::new(array, path)),
            Value::Table(table) => visitor.visit_map(Entries::new(table, path)),
        }
        .map_err(|e| e.at(&span, path))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Boolean(b) => visitor.visit_bool(b),
            _ => Err(self.wrong_type(Expected::Boolean)),
        }
        .map_err(|e| e.at(&self.span, self.path))
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Integer(n) => match to_i64(n) {
                Some(value) => visitor.visit_i64(value),
                None => Err(Error::new(Problem::IntegerOutOfRange(n.to_string()))),
            },
            _ => Err(self.wrong_type(Expected::Integer)),
        }
        .map_err(|e| e.at(&self.span, self.path))
    }

    /// A float, or an integer (`rate = 100` is 100.0), unsigned 64-bit ones included.
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Float(x) => to_f64(x).and_then(|value| visitor.visit_f64(value)),
            Value::Integer(n) => match to_i64(n) {
                Some(value) => visitor.visit_i64(value),
                None => match u64::from_str_radix(n.as_str(), n.radix()) {
                    Ok(value) => visitor.visit_u64(value),
                    Err(_) => Err(Error::new(Problem::IntegerOutOfRange(n.to_string()))),
                },
            },
            _ => Err(self.wrong_type(Expected::Float)),
        }
        .map_err(|e| e.at(&self.span, self.path))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::String(s) => visitor.visit_str(s),
            _ => Err(self.wrong_type(Expected::String)),
        }
        .map_err(|e| e.at(&self.span, self.path))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Array(array) => visitor.visit_seq(Items::new(array, self.path)),
            _ => Err(self.wrong_type(Expected::Array)),
        }
        .map_err(|e| e.at(&self.span, self.path))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Table(table) => visitor.visit_map(Entries::new(table, self.path)),
            _ => Err(self.wrong_type(Expected::Table)),
        }
        .map_err(|e| e.at(&self.span, self.path))
    }

    /// A table, or a [`Spanned`] value.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if is_spanned(name) {
            let span = self.span.clone();
            return visitor.visit_map(SpannedDeserializer::new(self, span));
        }
        match self.value {
            Value::Table(table) => visitor.visit_map(Entries::new(table, self.path)),
            _ => Err(self.wrong_type(Expected::Struct(name))),
        }
        .map_err(|e| e.at(&self.span, self.path))
    }

    /// A table with one key naming the kind, whose value is the kind's data; or, for a kind
    /// without data, a string.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::String(s) => visitor.visit_enum(StringEnum { name: s, variants }),
            Value::Table(table) => match table.iter().next() {
                Some((key, value)) if table.len() == 1 => visitor.visit_enum(TableEnum {
                    key,
                    value,
                    path: self.path,
                }),
                _ => Err(Error::new(Problem::KindCount {
                    name,
                    kinds: variants,
                    found: table.len(),
                })),
            },
            _ => Err(self.wrong_type(Expected::Kinds(variants))),
        }
        .map_err(|e| e.at(&self.span, self.path))
    }

    /// TOML has no null: a value that is there is `Some`.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (span, path) = (self.span.clone(), self.path);
        visitor.visit_some(self).map_err(|e| e.at(&span, path))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (span, path) = (self.span.clone(), self.path);
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| e.at(&span, path))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u32 u64 u128 f32 char bytes byte_buf unit unit_struct
        tuple_struct identifier
    }
}

/// A table's keys and values, in the tree's order.
struct Entries<'a> {
    entries: toml::map::Iter<'a, Spanned<DeString<'a>>, Spanned<DeValue<'a>>>,
    /// The entry whose key was just read.
    current: Option<(&'a str, &'a Spanned<DeValue<'a>>)>,
    path: &'a Path<'a>,
}

impl<'a> Entries<'a> {
    fn new(table: &'a DeTable<'a>, path: &'a Path<'a>) -> Self {
        Entries {
            entries: table.iter(),
            current: None,
            path,
        }
    }
}

impl<'de> de::MapAccess<'de> for Entries<'_> {
    type Error = Error;

    /// An error about a key (an unknown one) is located at the key, with the table's path.
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.current = Some((key.get_ref(), value));
        seed.deserialize(KeyDeserializer { key })
            .map(Some)
            .map_err(|e| e.at(&key.span(), self.path))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (key, value) = self
            .current
            .take()
            .ok_or_else(|| de::Error::custom("a value asked for before its key"))?;
        let path = Path::Key(self.path, key);
        seed.deserialize(ValueDeserializer::new(value, &path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An array's values, in order.
struct Items<'a> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Spanned<DeValue<'a>>>>,
    path: &'a Path<'a>,
}

impl<'a> Items<'a> {
    fn new(array: &'a DeArray<'a>, path: &'a Path<'a>) -> Self {
        Items {
            items: array.iter().enumerate(),
            path,
        }
    }
}

impl<'de> de::SeqAccess<'de> for Items<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some((index, item)) = self.items.next() else {
            return Ok(None);
        };
        let path = Path::Index(self.path, index);
        seed.deserialize(ValueDeserializer::new(item, &path))
            .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// A key of a table: a string, or a [`Spanned`] string.
struct KeyDeserializer<'a> {
    key: &'a Spanned<DeString<'a>>,
}

impl<'de> IntoDeserializer<'de, Error> for KeyDeserializer<'_> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for KeyDeserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(self.key.get_ref())
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if is_spanned(name) {
            let span = self.key.span();
            return visitor.visit_map(SpannedDeserializer::new(self, span));
        }
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// An enum written as a string: the name of a kind without data.
struct StringEnum<'a> {
    name: &'a str,
    variants: &'static [&'static str],
}

impl<'de> de::EnumAccess<'de> for StringEnum<'_> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let name: de::value::StrDeserializer<'_, Error> = self.name.into_deserializer();
        Ok((seed.deserialize(name)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for StringEnum<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    /// A kind that has data, written as a string: the data is missing.
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value, Error> {
        Err(self.without_data())
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, Error> {
        Err(self.without_data())
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Error> {
        Err(self.without_data())
    }
}

impl StringEnum<'_> {
    fn without_data(&self) -> Error {
        Error::wrong_type(
            Found::String(self.name.to_string()),
            Expected::Kinds(self.variants),
        )
    }
}

/// An enum written as a table of one key: the kind, and its data.
struct TableEnum<'a> {
    key: &'a Spanned<DeString<'a>>,
    value: &'a Spanned<DeValue<'a>>,
    /// The enum's own path.
    path: &'a Path<'a>,
}

impl<'a, 'de> de::EnumAccess<'de> for TableEnum<'a> {
    type Error = Error;
    type Variant = Self;

    /// An unknown kind is an unknown key of the enum's table.
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let kind = seed
            .deserialize(KeyDeserializer { key: self.key })
            .map_err(|mut e| {
                if let Problem::UnknownVariant { variant, expected } = e.problem {
                    e.problem = Problem::UnknownKey {
                        key: variant,
                        expected,
                    };
                }
                e.at(&self.key.span(), self.path)
            })?;
        Ok((kind, self))
    }
}

impl<'de> de::VariantAccess<'de> for TableEnum<'_> {
    type Error = Error;

    /// A kind without data: an empty table.
    fn unit_variant(self) -> Result<(), Error> {
        match self.value.get_ref() {
            DeValue::Table(table) if table.is_empty() => Ok(()),
            value => Err(
                Error::wrong_type(Value::from(value).found(), Expected::Fields(&[])).at(
                    &self.value.span(),
                    &Path::Key(self.path, self.key.get_ref()),
                ),
            ),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        let path = Path::Key(self.path, self.key.get_ref());
        seed.deserialize(ValueDeserializer::new(self.value, &path))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        let path = Path::Key(self.path, self.key.get_ref());
        de::Deserializer::deserialize_seq(ValueDeserializer::new(self.value, &path), visitor)
    }

    /// A table of the kind's keys. Its keys are checked before its values, so that a
    /// misspelt key is told first.
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let path = Path::Key(self.path, self.key.get_ref());
        let span = self.value.span();
        let DeValue::Table(table) = self.value.get_ref() else {
            return Err(Error::wrong_type(
                Value::from(self.value.get_ref()).found(),
                Expected::Fields(fields),
            )
            .at(&span, &path));
        };
        if let Some((key, _)) = table
            .iter()
            .find(|(key, _)| !fields.contains(&key.get_ref().as_ref()))
        {
            return Err(Error::new(Problem::UnknownKey {
                key: key.get_ref().to_string(),
                expected: fields,
            })
            .at(&key.span(), &path));
        }
        visitor
            .visit_map(Entries::new(table, &path))
            .map_err(|e| e.at(&span, &path))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use serde::Deserialize;

    use super::*;
    use crate::scenario::error::Source;

    /// One of each kind of value a file can hold.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename = "a test file")]
    struct Doc {
        #[serde(default)]
        count: Option<Spanned<i64>>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        ratio: Option<f64>,
        #[serde(default)]
        on: Option<bool>,
        #[serde(default)]
        list: Vec<String>,
        #[serde(default)]
        inner: Option<Inner>,
        #[serde(default)]
        items: BTreeMap<Spanned<String>, Spanned<Inner>>,
        #[serde(default)]
        shape: Option<Spanned<Shape>>,
        #[serde(default)]
        mode: Option<Mode>,
        #[serde(default, with = "crate::duration_format::option")]
        wait: Option<Duration>,
        #[serde(default, with = "crate::duration_format::vec")]
        waits: Vec<Duration>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename = "an inner table such as { size = 1 }")]
    struct Inner {
        size: i64,
        #[serde(default)]
        note: Option<String>,
    }

    /// Externally tagged, like [`crate::distribution::Distribution`].
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case", deny_unknown_fields)]
    enum Shape {
        Circle { radius: f64 },
        Square(f64),
        Dot,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        Fast,
        Slow,
    }

    fn parse(text: &str) -> Result<Doc, String> {
        let source = Source::parse(text, "t.toml").map_err(|e| e.to_string())?;
        source.deserialize::<Doc>().map_err(|e| e.to_string())
    }

    fn error_of(text: &str) -> String {
        match parse(text) {
            Ok(doc) => panic!("accepted {doc:?}:\n{text}"),
            Err(message) => message,
        }
    }

    /// Each case: the file, and its exact message.
    fn check(cases: &[(&str, &str)]) {
        let wrong: Vec<String> = cases
            .iter()
            .filter_map(|(text, expected)| {
                let message = error_of(text);
                (message != *expected)
                    .then(|| format!("{text:?}\n  got      {message}\n  expected {expected}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn every_kind_of_value_deserializes_with_its_span() {
        let text = "count = -9223372036854775808\nname = 'n'\nratio = 2\non = true\n\
                    list = [\"a\", \"b\"]\ninner = { size = 1 }\nmode = \"slow\"\n\
                    shape = { circle = { radius = 0.5 } }\nwait = \"2ms\"\nwaits = [\"1s\"]\n\
                    [items.x]\nsize = 3\nnote = \"y\"\n";
        let doc = parse(text).unwrap();
        let count = doc.count.unwrap();
        assert_eq!((*count.get_ref(), count.span()), (i64::MIN, 8..28));
        assert_eq!(doc.name.as_deref(), Some("n"));
        assert_eq!(doc.ratio, Some(2.0));
        assert_eq!(doc.on, Some(true));
        assert_eq!(doc.list, ["a", "b"]);
        assert_eq!(
            doc.inner,
            Some(Inner {
                size: 1,
                note: None
            })
        );
        assert_eq!(doc.mode, Some(Mode::Slow));
        assert_eq!(
            doc.shape.map(Spanned::into_inner),
            Some(Shape::Circle { radius: 0.5 })
        );
        assert_eq!(doc.wait, Some(Duration::from_millis(2)));
        assert_eq!(doc.waits, [Duration::from_secs(1)]);
        let (key, item) = doc.items.iter().next().unwrap();
        assert_eq!(&text[key.span()], "x");
        assert_eq!(&text[item.span()], "[items.x]");
        assert_eq!(item.get_ref().note.as_deref(), Some("y"));
        let other = parse("shape = { square = 2.0 }\n[items.z]\nsize = 0\n").unwrap();
        assert_eq!(
            other.shape.map(Spanned::into_inner),
            Some(Shape::Square(2.0))
        );
        assert_eq!(
            parse("shape = \"dot\"")
                .unwrap()
                .shape
                .unwrap()
                .into_inner(),
            Shape::Dot
        );
        assert_eq!(
            parse("shape = { dot = {} }")
                .unwrap()
                .shape
                .unwrap()
                .into_inner(),
            Shape::Dot
        );
    }

    /// An unknown key is located at the key, with its table's path, in every kind of table.
    #[test]
    fn unknown_keys() {
        check(&[
            (
                "cuont = 1",
                "t.toml:1:1: unknown key \"cuont\"; did you mean \"count\"?",
            ),
            (
                "inner = { size = 1, nte = \"x\" }",
                "t.toml:1:21: inner: unknown key \"nte\"; did you mean \"note\"?",
            ),
            (
                "[inner]\nsize = 1\nzzz = 2",
                "t.toml:3:1: inner: unknown key \"zzz\"; expected one of size, note",
            ),
            (
                "[items.a]\nsize = 1\nnot = 2",
                "t.toml:3:1: items.a: unknown key \"not\"; did you mean \"note\"?",
            ),
            // A kind of an enum...
            (
                "shape = { circel = { radius = 1.0 } }",
                "t.toml:1:11: shape: unknown key \"circel\"; did you mean \"circle\"?",
            ),
            // ... and a key of a kind, told before its values.
            (
                "shape = { circle = { radus = \"x\" } }",
                "t.toml:1:22: shape.circle: unknown key \"radus\"; did you mean \"radius\"?",
            ),
            // An enum written as a string naming no kind.
            (
                "shape = \"circel\"",
                "t.toml:1:9: shape: expected a table with one of the keys circle, square, dot, \
                 found \"circel\"",
            ),
            (
                "mode = 'fats'",
                "t.toml:1:8: mode: expected a table with one of the keys fast, slow, found 'fats'",
            ),
        ]);
    }

    #[test]
    fn unknown_keys_are_data() {
        let tree = DeTable::parse("[inner]\nsize = 1\nnte = 2\n").unwrap();
        let error = from_tree::<Doc>(&tree).unwrap_err();
        assert_eq!(
            error.problem(),
            &Problem::UnknownKey {
                key: "nte".to_string(),
                expected: &["size", "note"],
            }
        );
        assert_eq!(error.span(), 17..20);
        assert_eq!(error.path(), [PathSegment::Key("inner".to_string())]);
    }

    /// A missing key is located at its table: inline, under a header, or an enum's kind.
    #[test]
    fn missing_keys() {
        check(&[
            (
                "inner = { note = \"x\" }",
                "t.toml:1:9: inner: missing key \"size\"",
            ),
            (
                "[inner]\nnote = \"x\"",
                "t.toml:1:1: inner: missing key \"size\"",
            ),
            (
                "\n[items.\"a b\"]\nnote = \"x\"",
                "t.toml:2:1: items.\"a b\": missing key \"size\"",
            ),
            (
                "shape = { circle = {} }",
                "t.toml:1:20: shape.circle: missing key \"radius\"",
            ),
        ]);
    }

    /// A value of the wrong type is located at the value and named in the file's terms.
    #[test]
    fn wrong_types() {
        check(&[
            (
                "count = \"3\"",
                "t.toml:1:9: count: expected a whole number, found string \"3\"",
            ),
            (
                "count = 1.5",
                "t.toml:1:9: count: expected a whole number, found number `1.5`",
            ),
            (
                "count = 3.0",
                "t.toml:1:9: count: expected a whole number, found number `3.0`",
            ),
            (
                "count = nan",
                "t.toml:1:9: count: expected a whole number, found number `NaN`",
            ),
            (
                "count = 1979-05-27",
                "t.toml:1:9: count: expected a whole number, found datetime `1979-05-27`",
            ),
            (
                "name = 3",
                "t.toml:1:8: name: expected a string, found integer `3`",
            ),
            (
                "name = [\"a\"]",
                "t.toml:1:8: name: expected a string, found array",
            ),
            (
                "ratio = \"x\"",
                "t.toml:1:9: ratio: expected a number, found string \"x\"",
            ),
            (
                "ratio = {}",
                "t.toml:1:9: ratio: expected a number, found table",
            ),
            (
                "on = 1",
                "t.toml:1:6: on: expected a boolean, found integer `1`",
            ),
            (
                "on = \"yes\"",
                "t.toml:1:6: on: expected a boolean, found string \"yes\"",
            ),
            (
                "list = \"a\"",
                "t.toml:1:8: list: expected an array, found string \"a\"",
            ),
            (
                "list = [\"a\", false]",
                "t.toml:1:14: list[1]: expected a string, found boolean `false`",
            ),
            (
                "inner = 3",
                "t.toml:1:9: inner: expected an inner table such as { size = 1 }, found integer `3`",
            ),
            (
                "inner = [{ size = 1 }]",
                "t.toml:1:9: inner: expected an inner table such as { size = 1 }, found array",
            ),
            (
                "items = []",
                "t.toml:1:9: items: expected a table, found array",
            ),
            (
                "[items.a]\nsize = \"1\"",
                "t.toml:2:8: items.a.size: expected a whole number, found string \"1\"",
            ),
            (
                "shape = 3",
                "t.toml:1:9: shape: expected a table with one of the keys circle, square, dot, \
                 found integer `3`",
            ),
            (
                "shape = \"circle\"",
                "t.toml:1:9: shape: expected a table with one of the keys circle, square, dot, \
                 found string \"circle\"",
            ),
            (
                "shape = { circle = 1.0 }",
                "t.toml:1:20: shape.circle: expected a table with radius, found number `1.0`",
            ),
            (
                "shape = { square = \"x\" }",
                "t.toml:1:20: shape.square: expected a number, found string \"x\"",
            ),
            (
                "shape = { dot = 1 }",
                "t.toml:1:17: shape.dot: expected an empty table, found integer `1`",
            ),
            (
                "shape = {}",
                "t.toml:1:9: shape: a shape names exactly one kind (circle, square or dot), \
                 found none",
            ),
            (
                "[shape]\ndot = {}\nsquare = 1.0",
                "t.toml:1:1: shape: a shape names exactly one kind (circle, square or dot), \
                 found more than one",
            ),
        ]);
    }

    /// TOML's integers are 64-bit: beyond is an error where the integer is, not a wrap.
    #[test]
    fn integers_out_of_range() {
        check(&[
            (
                "count = 9223372036854775808",
                "t.toml:1:9: count: integer 9223372036854775808 is out of range: TOML integers \
                 go from -9223372036854775808 to 9223372036854775807",
            ),
            (
                "\n  count = -9223372036854775809",
                "t.toml:2:11: count: integer -9223372036854775809 is out of range: TOML integers \
                 go from -9223372036854775808 to 9223372036854775807",
            ),
            (
                "count = 0xffff_ffff_ffff_ffff",
                "t.toml:1:9: count: integer 0xffffffffffffffff is out of range: TOML integers \
                 go from -9223372036854775808 to 9223372036854775807",
            ),
            (
                "ratio = 1e400",
                "t.toml:1:9: ratio: number 1e400 is too large for a 64-bit float",
            ),
        ]);
        assert_eq!(parse("ratio = inf").unwrap().ratio, Some(f64::INFINITY));
    }

    /// An error from a `Deserialize` impl of ours (a duration) is located at its value.
    #[test]
    fn errors_of_our_own_impls_are_located_at_the_value() {
        check(&[
            (
                "name = \"x\"\nwait = \"5\"",
                "t.toml:2:8: wait: duration \"5\" has no unit; write it with one of ns, us, ms, \
                 s, m, h, e.g. \"5us\"",
            ),
            (
                "waits = [\"1s\",\n  \"-2s\"]",
                "t.toml:2:3: waits[1]: duration \"-2s\" is negative; durations must be zero or more",
            ),
            (
                "wait = true",
                "t.toml:1:8: wait: expected a duration string with a unit (ns, us, ms, s, m, h), \
                 e.g. \"250us\", found boolean `true`",
            ),
        ]);
    }
}

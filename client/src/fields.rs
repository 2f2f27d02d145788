//! Request fields parsed as they are deserialized (parse, don't validate), each with the exact
//! OpenAPI schema of what it accepts: whatever the schema allows parses, whatever it refuses
//! does not. Handlers receive domain types.

use std::{fmt, marker::PhantomData};

use imo_oracle::types::{Address, BoundedText, ModelName, Role, Wei};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        KnownFormat, ObjectBuilder, RefOr, Schema, SchemaFormat,
        schema::{SchemaType, Type as T},
    },
};

macro_rules! serialize_display {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let $v = self;
                s.collect_str(&$e)
            }
        }
    )*};
}

serialize_display! {
    AddressField => |v| v.0,
    WeiField => |v| v.0,
    PositiveWeiField => |v| v.0,
    ModelNameField => |v| v.0.as_str(),
    RoleField => |v| v.0,
    SupplyField => |v| v.0,
    TokenNameField => |v| v.0,
    SymbolField => |v| v.0,
}

impl<const MAX: usize> Serialize for Text<MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<const MAX: u64> Serialize for Limit<MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

/// `impl Deserialize` for a field that wraps the domain type its text parses to (`FromStr`).
macro_rules! deserialize_parsed {
    ($t:ty) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map(Self).map_err(D::Error::custom)
            }
        }
    };
}

/// The OpenAPI schema of a string field ([`string`]: its pattern, format and description).
macro_rules! string_schema {
    ($t:ty, $pattern:expr, $format:expr, $description:expr) => {
        impl PartialSchema for $t {
            fn schema() -> RefOr<Schema> {
                string($pattern, $format, $description)
            }
        }
        impl ToSchema for $t {}
    };
}

fn string(pattern: &str, format: Option<&str>, description: &str) -> RefOr<Schema> {
    let mut b = ObjectBuilder::new()
        .schema_type(SchemaType::Type(T::String))
        .pattern(Some(pattern))
        .description(Some(description));
    if let Some(f) = format {
        b = b.format(Some(SchemaFormat::Custom(f.into())));
    }
    b.into()
}

/// An Ethereum address: `0x` and 40 hex digits; mixed case must be a valid EIP-55 checksum
/// (OpenAPI format `eth-address`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressField(pub Address);

deserialize_parsed!(AddressField);

string_schema!(
    AddressField,
    "^0x[0-9a-fA-F]{40}$",
    Some("eth-address"),
    "Ethereum address; mixed case must be a valid EIP-55 checksum"
);

/// An amount of wei: a decimal integer of at most 38 digits (below 10^38 wei).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeiField(pub Wei);

/// Most digits an amount of wei may have in a request.
pub const WEI_DIGITS: usize = 38;

impl<'de> Deserialize<'de> for WeiField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        canonical_decimal(&s, WEI_DIGITS).map_err(D::Error::custom)?;
        s.parse().map(Self).map_err(D::Error::custom)
    }
}

string_schema!(
    WeiField,
    "^(0|[1-9][0-9]{0,37})$",
    None,
    "amount of wei, decimal without leading zeros (at most 38 digits)"
);

/// A decimal integer written canonically: digits only, no leading zero (but `0` itself), at
/// most `max` digits.
pub fn canonical_decimal(s: &str, max: usize) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a decimal integer of at most {max} digits without leading zeros"
        ))
    }
}

/// A whole number of tokens: 1 to 10^34 − 1, decimal without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplyField(pub String);

impl<'de> Deserialize<'de> for SupplyField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        canonical_decimal(&s, 34).map_err(D::Error::custom)?;
        if s == "0" {
            return Err(D::Error::custom("the supply must be at least 1 token"));
        }
        Ok(Self(s))
    }
}

string_schema!(
    SupplyField,
    "^[1-9][0-9]{0,33}$",
    None,
    "whole tokens, 1 to 10^34 - 1"
);

/// A token name: 1–64 characters, no control characters, no whitespace at either end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenNameField(pub String);

impl<'de> Deserialize<'de> for TokenNameField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let n = s.chars().count();
        if n == 0 || n > 64 || s.trim() != s || s.chars().any(char::is_control) {
            return Err(D::Error::custom(
                "name must be 1 to 64 characters, without control characters or whitespace at either end",
            ));
        }
        Ok(Self(s))
    }
}

string_schema!(
    TokenNameField,
    "^[^\\s\\u0000-\\u001F\\u007F-\\u009F]([^\\u0000-\\u001F\\u007F-\\u009F]{0,62}[^\\s\\u0000-\\u001F\\u007F-\\u009F])?$",
    None,
    "token name, 1-64 characters"
);

/// A token symbol: 1–11 of `A-Z 0-9 -`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolField(pub String);

impl<'de> Deserialize<'de> for SymbolField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ok = (1..=11).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(D::Error::custom(format!(
                "symbol `{s}` must be 1 to 11 characters of A-Z, 0-9 and -"
            )));
        }
        Ok(Self(s))
    }
}

string_schema!(SymbolField, "^[A-Z0-9-]{1,11}$", None, "token symbol");

/// Basis points, 0 to 10,000 (100 %); integral floats accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpsField(pub u16);

impl<'de> Deserialize<'de> for BpsField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n: u64 = d.deserialize_any(IntVisitor::<u64>(PhantomData))?;
        if n > 10_000 {
            return Err(D::Error::custom(format!(
                "{n} basis points is above 10000 (100 %)"
            )));
        }
        Ok(Self(n as u16))
    }
}

impl PartialSchema for BpsField {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(T::Integer))
            .minimum(Some(0))
            .maximum(Some(10_000))
            .description(Some("basis points, 0 to 10000"))
            .into()
    }
}
impl ToSchema for BpsField {}

impl Serialize for BpsField {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.0)
    }
}

/// An amount of wei above 0 (at most 38 digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositiveWeiField(pub Wei);

impl<'de> Deserialize<'de> for PositiveWeiField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WeiField::deserialize(d)?;
        if w.0.0 == 0 {
            return Err(D::Error::custom("the amount must be above 0"));
        }
        Ok(Self(w.0))
    }
}

string_schema!(
    PositiveWeiField,
    "^[1-9][0-9]{0,37}$",
    None,
    "amount of wei above 0, decimal without leading zeros (at most 38 digits)"
);

/// A model name: 1–64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelNameField(pub ModelName);

deserialize_parsed!(ModelNameField);

string_schema!(
    ModelNameField,
    "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
    None,
    "model name: 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit"
);

/// Free text of at most `MAX` characters, without control characters other than a newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<const MAX: usize>(pub BoundedText);

/// The pattern of [`Text`]: no C0 or C1 control character except `\n`.
const TEXT_PATTERN: &str = "^[^\\u0000-\\u0009\\u000B-\\u001F\\u007F-\\u009F]*$";

impl<'de, const MAX: usize> Deserialize<'de> for Text<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        BoundedText::parse("text", &s, MAX)
            .map(Self)
            .map_err(D::Error::custom)
    }
}

impl<const MAX: usize> PartialSchema for Text<MAX> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(T::String))
            .pattern(Some(TEXT_PATTERN))
            .max_length(Some(MAX))
            .description(Some(format!(
                "text, at most {MAX} characters, no control characters but newline"
            )))
            .into()
    }
}
impl<const MAX: usize> ToSchema for Text<MAX> {
    fn name() -> std::borrow::Cow<'static, str> {
        format!("Text{MAX}").into()
    }
}

/// A key's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleField(pub Role);

deserialize_parsed!(RoleField);

impl PartialSchema for RoleField {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(T::String))
            .enum_values(Some(["publisher", "client", "admin"]))
            .into()
    }
}
impl ToSchema for RoleField {}

/// A page size between 1 and `MAX`; larger values are refused, not clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit<const MAX: u64>(pub u64);

impl<'de, const MAX: u64> Deserialize<'de> for Limit<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = d.deserialize_any(IntVisitor::<u64>(PhantomData))?;
        if !(1..=MAX).contains(&n) {
            return Err(D::Error::custom(format!(
                "limit must be between 1 and {MAX}, got {n}"
            )));
        }
        Ok(Self(n))
    }
}

impl<const MAX: u64> PartialSchema for Limit<MAX> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(T::Integer))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .maximum(Some(MAX as f64))
            .into()
    }
}
impl<const MAX: u64> ToSchema for Limit<MAX> {
    fn name() -> std::borrow::Cow<'static, str> {
        format!("Limit{MAX}").into()
    }
}

/// An integer that may also be written as a number with a zero fraction (`669.0`), as JSON
/// Schema allows for `integer`; a fraction or a value out of range is refused.
pub fn integral<'de, D, N>(d: D) -> Result<N, D::Error>
where
    D: Deserializer<'de>,
    N: TryFrom<i128> + TryFrom<u64> + TryFrom<i64>,
{
    d.deserialize_any(IntVisitor::<N>(PhantomData))
}

/// The same for optional fields.
pub fn integral_opt<'de, D, N>(d: D) -> Result<Option<N>, D::Error>
where
    D: Deserializer<'de>,
    N: TryFrom<i128> + TryFrom<u64> + TryFrom<i64>,
{
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => integral(v).map(Some).map_err(D::Error::custom),
    }
}

struct IntVisitor<N>(PhantomData<N>);

impl<N> serde::de::Visitor<'_> for IntVisitor<N>
where
    N: TryFrom<i128> + TryFrom<u64> + TryFrom<i64>,
{
    type Value = N;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<N, E> {
        N::try_from(v).map_err(|_| E::custom(format!("{v} is out of range")))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<N, E> {
        N::try_from(v).map_err(|_| E::custom(format!("{v} is out of range")))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<N, E> {
        if v.fract() != 0.0 || !v.is_finite() || v.abs() > 2f64.powi(63) {
            return Err(E::custom(format!("{v} is not an integer")));
        }
        N::try_from(v as i128).map_err(|_| E::custom(format!("{v} is out of range")))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<N, E> {
        // Query strings and paths carry every value as text.
        let t = v.strip_suffix(".0").unwrap_or(v);
        if let Ok(n) = t.parse::<i128>() {
            return N::try_from(n).map_err(|_| E::custom(format!("{v} is out of range")));
        }
        Err(E::custom(format!("`{v}` is not an integer")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct B {
        #[serde(deserialize_with = "integral")]
        n: u32,
        #[serde(default, deserialize_with = "integral_opt")]
        m: Option<i64>,
    }

    #[test]
    fn integers_may_carry_a_zero_fraction() {
        let b: B = serde_json::from_str(r#"{"n": 669.0, "m": -3}"#).unwrap();
        assert_eq!((b.n, b.m), (669, Some(-3)));
        let b: B = serde_json::from_str(r#"{"n": 7}"#).unwrap();
        assert_eq!((b.n, b.m), (7, None));
        for bad in [
            r#"{"n": 1.5}"#,
            r#"{"n": -1}"#,
            r#"{"n": 1e30}"#,
            r#"{"n": "x"}"#,
        ] {
            assert!(serde_json::from_str::<B>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fields_parse_exactly_what_their_schema_allows() {
        let wei: WeiField = serde_json::from_str(r#""42""#).unwrap();
        assert_eq!(wei.0, Wei(42));
        assert!(serde_json::from_str::<WeiField>(r#""042""#).is_err());
        assert!(serde_json::from_str::<PositiveWeiField>(r#""0""#).is_err());
        assert!(serde_json::from_str::<TokenNameField>(r#"" x""#).is_err());
        assert!(serde_json::from_str::<SymbolField>(r#""ab""#).is_err());
        assert!(serde_json::from_str::<WeiField>(&format!("\"{}\"", "9".repeat(39))).is_err());
        assert!(serde_json::from_str::<AddressField>(r#""0x12""#).is_err());
        assert!(serde_json::from_str::<Text<3>>(r#""abcd""#).is_err());
        assert!(serde_json::from_str::<Text<3>>("\"a\\u0085\"").is_err());
        assert!(serde_json::from_str::<Text<3>>("\"a\\nb\"").is_ok());
        type Q = actix_web::web::Query<std::collections::HashMap<String, Limit<10>>>;
        assert_eq!(Q::from_query("l=10").unwrap()["l"].0, 10);
        assert!(Q::from_query("l=11").is_err());
        assert!(Q::from_query("l=0").is_err());
    }
}

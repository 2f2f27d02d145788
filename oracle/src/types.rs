//! Validated newtypes. Request types end at the HTTP handler; the domain only takes these.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::error::OracleError;

/// An Ethereum account address, displayed EIP-55 checksummed, stored lower-case hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(pub alloy::primitives::Address);

impl Address {
    /// Lower-case `0x…` form used as the storage key.
    pub fn storage_key(&self) -> String {
        format!("{:#x}", self.0)
    }
}

impl FromStr for Address {
    type Err = OracleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if !(s.len() == 42 && s.starts_with("0x")) {
            return Err(OracleError::InvalidInput(format!(
                "`{s}` is not an Ethereum address (expected 0x followed by 40 hex digits)"
            )));
        }
        let a = alloy::primitives::Address::from_str(s).map_err(|e| {
            OracleError::InvalidInput(format!("`{s}` is not an Ethereum address: {e}"))
        })?;
        // Mixed case must be a valid EIP-55 checksum; all-lower/all-upper is accepted.
        let hex = &s[2..];
        let mixed = hex.chars().any(|c| c.is_ascii_lowercase())
            && hex.chars().any(|c| c.is_ascii_uppercase());
        if mixed && a.to_checksum(None) != s {
            return Err(OracleError::InvalidInput(format!(
                "`{s}` has a wrong EIP-55 checksum"
            )));
        }
        Ok(Self(a))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_checksum(None))
    }
}

/// A model's unique name, used as the inference model name: 1–64 characters of
/// `a-z A-Z 0-9 . _ -`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ModelName(String);

impl ModelName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ModelName {
    type Err = OracleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok_len = (1..=64).contains(&s.len());
        let ok_first = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if ok_len && ok_first && ok_chars {
            Ok(Self(s.to_owned()))
        } else {
            Err(OracleError::InvalidInput(format!(
                "model name `{s}` is invalid: use 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit"
            )))
        }
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount of wei. `u128` covers 3.4e20 ETH; amounts travel as decimal strings in JSON
/// (JavaScript numbers lose precision past 2^53) and are stored as decimal text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Wei(pub u128);

impl FromStr for Wei {
    type Err = OracleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(OracleError::InvalidInput(format!(
                "`{s}` is not an amount of wei (a non-negative decimal integer)"
            )));
        }
        s.parse::<u128>()
            .map(Wei)
            .map_err(|_| OracleError::InvalidInput(format!("amount `{s}` is too large")))
    }
}

impl fmt::Display for Wei {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Serde as the type's text (`Display` out, `FromStr` in): a JSON string, as the API shows it.
macro_rules! serde_as_text {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_as_text!(Address, Wei);

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Uploads and manages its own models.
    Publisher,
    /// Calls models (metered inference).
    Client,
    /// Operates the service: may change any model, credit balances, create keys.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Publisher => "publisher",
            Role::Client => "client",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = OracleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "publisher" => Ok(Role::Publisher),
            "client" => Ok(Role::Client),
            "admin" => Ok(Role::Admin),
            _ => Err(OracleError::InvalidInput(format!(
                "role `{s}` is unknown: use publisher, client or admin"
            ))),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bounded free-text field (description, version, label).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoundedText(String);

impl BoundedText {
    pub fn parse(field: &str, s: &str, max: usize) -> Result<Self, OracleError> {
        if s.chars().count() > max {
            return Err(OracleError::InvalidInput(format!(
                "{field} is longer than {max} characters"
            )));
        }
        if s.chars().any(|c| c.is_control() && c != '\n') {
            return Err(OracleError::InvalidInput(format!(
                "{field} contains control characters"
            )));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_checksum() {
        let a: Address = "0x52908400098527886e0f7030069857d2e4169ee7"
            .parse()
            .unwrap();
        assert_eq!(a.to_string(), "0x52908400098527886E0F7030069857D2E4169EE7");
        assert!(
            "0x52908400098527886E0F7030069857D2E4169EE7"
                .parse::<Address>()
                .is_ok()
        );
        assert!(
            "0x52908400098527886E0F7030069857D2E4169Ee7"
                .parse::<Address>()
                .is_err()
        );
        assert!(
            "52908400098527886e0f7030069857d2e4169ee7"
                .parse::<Address>()
                .is_err()
        );
        assert!("0x1234".parse::<Address>().is_err());
        assert_eq!(
            a.storage_key(),
            "0x52908400098527886e0f7030069857d2e4169ee7"
        );
    }

    #[test]
    fn names_and_amounts() {
        assert!("minilm-v2.int8".parse::<ModelName>().is_ok());
        for bad in ["", "-x", "a b", "a/b", &"x".repeat(65)] {
            assert!(bad.parse::<ModelName>().is_err(), "{bad}");
        }
        assert_eq!("1000".parse::<Wei>().unwrap(), Wei(1000));
        for bad in ["", "-1", "1e3", "0x10", "1.5", &"9".repeat(40)] {
            assert!(bad.parse::<Wei>().is_err(), "{bad}");
        }
    }
}

//! Usage receipts, signed by the operator as EIP-712 typed data. The struct and domain are the
//! ones the UsageOracle contract verifies (contracts/src/Types.sol, docs/PROTOCOL.md).

use alloy::{
    primitives::{Address as EthAddress, B256, U256},
    signers::local::PrivateKeySigner,
    sol_types::{Eip712Domain, SolStruct, eip712_domain},
};
use serde::{Deserialize, Serialize};

use crate::{
    config::MeteringConfig,
    error::{OracleError, Result},
    types::{Address, Wei},
};

alloy::sol! {
    /// EIP-712 `Receipt`, field for field as in contracts/src/Types.sol.
    #[derive(Debug, PartialEq, Eq)]
    struct Receipt {
        uint128 id;
        uint64 epoch;
        bytes32 model;
        address client;
        uint256 price;
        bytes32 inputHash;
        bytes32 outputHash;
        bytes32 fingerprint;
        uint64 timestamp;
    }
}

/// A [`Receipt`] as a contract binding's own `Receipt` struct (each contract's ABI generates one,
/// field for field the same).
macro_rules! receipt_as {
    ($ty:path, $r:expr) => {{
        let r = $r;
        $ty {
            id: r.id,
            epoch: r.epoch,
            model: r.model,
            client: r.client,
            price: r.price,
            inputHash: r.inputHash,
            outputHash: r.outputHash,
            fingerprint: r.fingerprint,
            timestamp: r.timestamp,
        }
    }};
}
pub(crate) use receipt_as;

/// A receipt as stored and served: the signed fields plus what makes them readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRecord {
    /// ULID, 26 characters; as a 128-bit integer it is the signed `id`.
    pub id: String,
    pub epoch: u64,
    pub model_id: String,
    pub model_name: String,
    /// The model's weights commitment (hex), signed as `model`.
    pub weights_root: String,
    pub client: Address,
    pub price_wei: Wei,
    pub input_hash: String,
    pub output_hash: String,
    /// The execution fingerprint; its SHA-256 is signed as `fingerprint`.
    pub fingerprint: String,
    pub fingerprint_hash: String,
    pub timestamp_ms: u64,
    /// 65-byte secp256k1 signature (r, s, v) over the EIP-712 hash, 0x-hex.
    pub signature: String,
}

fn b256(hex_str: &str, what: &str) -> Result<B256> {
    hex_str
        .parse::<B256>()
        .map_err(|e| OracleError::Database(format!("corrupt {what} `{hex_str}`: {e}")))
}

impl ReceiptRecord {
    /// The EIP-712 struct this record's signature covers.
    pub fn typed(&self) -> Result<Receipt> {
        let id = ulid::Ulid::from_string(&self.id)
            .map_err(|e| OracleError::Database(format!("corrupt receipt id: {e}")))?;
        Ok(Receipt {
            id: u128::from(id),
            epoch: self.epoch,
            model: b256(&self.weights_root, "weights root")?,
            client: self.client.0,
            price: U256::from(self.price_wei.0),
            inputHash: b256(&self.input_hash, "input hash")?,
            outputHash: b256(&self.output_hash, "output hash")?,
            fingerprint: b256(&self.fingerprint_hash, "fingerprint hash")?,
            timestamp: self.timestamp_ms,
        })
    }
}

/// Signs receipts with the operator key under the configured EIP-712 domain.
///
/// Receipts are signed with libsecp256k1 (the `secp256k1` crate: Bitcoin Core's C library),
/// which signs in a fraction of the time of the pure-Rust k256 behind alloy's
/// `PrivateKeySigner` (a signature is on every metered call's critical path). Both are RFC 6979
/// deterministic with low-S, so the signature is byte for byte the one alloy would make
/// (tested); alloy's signer is kept for the operator's address and the chain loop.
#[derive(Clone)]
pub struct ReceiptSigner {
    signer: PrivateKeySigner,
    secret: secp256k1::SecretKey,
    domain: Eip712Domain,
}

/// The signing context (precomputed tables), built once per process.
fn secp() -> &'static secp256k1::Secp256k1<secp256k1::SignOnly> {
    static CTX: std::sync::OnceLock<secp256k1::Secp256k1<secp256k1::SignOnly>> =
        std::sync::OnceLock::new();
    CTX.get_or_init(secp256k1::Secp256k1::signing_only)
}

/// A 65-byte `r || s || v` signature (v = 27 + recovery id) of a 32-byte hash.
fn sign_prehash(secret: &secp256k1::SecretKey, hash: &B256) -> [u8; 65] {
    let sig = secp().sign_ecdsa_recoverable(secp256k1::Message::from_digest(hash.0), secret);
    let (recid, rs) = sig.serialize_compact();
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&rs);
    out[64] = 27 + i32::from(recid) as u8;
    out
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("operator", &self.signer.address())
            .finish()
    }
}

impl ReceiptSigner {
    pub fn from_config(cfg: &MeteringConfig) -> Result<Self> {
        let key = match (&cfg.operator_key, &cfg.operator_key_file) {
            (Some(k), _) => k.clone(),
            (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
                OracleError::InvalidInput(format!(
                    "cannot read operator key file {}: {e}",
                    path.display()
                ))
            })?,
            (None, None) => {
                return Err(OracleError::InvalidInput(
                    "no operator key: set metering.operator_key_file (or IMO_METERING_OPERATOR_KEY_FILE) to sign receipts".into(),
                ));
            }
        };
        let signer: PrivateKeySigner = key.trim().parse().map_err(|_| {
            OracleError::InvalidInput("the operator key is not a 32-byte hex secp256k1 key".into())
        })?;
        let contract: EthAddress = cfg.verifying_contract.parse().map_err(|_| {
            OracleError::InvalidInput(format!(
                "metering.verifying_contract `{}` is not an address",
                cfg.verifying_contract
            ))
        })?;
        let secret = secp256k1::SecretKey::from_byte_array(signer.to_bytes().0).map_err(|_| {
            OracleError::InvalidInput("the operator key is not a valid secp256k1 key".into())
        })?;
        Ok(Self {
            domain: domain(cfg.chain_id, contract),
            signer,
            secret,
        })
    }

    pub fn operator(&self) -> Address {
        Address(self.signer.address())
    }

    /// The operator's key (it also sends the chain loop's transactions).
    pub fn key(&self) -> &PrivateKeySigner {
        &self.signer
    }

    pub fn domain(&self) -> &Eip712Domain {
        &self.domain
    }

    /// Signs the record's EIP-712 hash and stores the signature in it.
    pub fn sign(&self, record: &mut ReceiptRecord) -> Result<()> {
        let hash = record.typed()?.eip712_signing_hash(&self.domain);
        record.signature = format!("0x{}", hex::encode(sign_prehash(&self.secret, &hash)));
        Ok(())
    }
}

/// The EIP-712 domain of receipts: ("IMO Oracle", "1", chain id, UsageOracle).
pub fn domain(chain_id: u64, verifying_contract: EthAddress) -> Eip712Domain {
    eip712_domain! {
        name: "IMO Oracle",
        version: "1",
        chain_id: chain_id,
        verifying_contract: verifying_contract,
    }
}

/// Recovers the address that signed a receipt (what a client or the contract checks).
pub fn recover_signer(record: &ReceiptRecord, domain: &Eip712Domain) -> Result<Address> {
    let hash = record.typed()?.eip712_signing_hash(domain);
    let bytes = hex::decode(record.signature.trim_start_matches("0x"))
        .map_err(|_| OracleError::InvalidInput("signature is not hex".into()))?;
    let sig = alloy::primitives::Signature::from_raw(&bytes)
        .map_err(|e| OracleError::InvalidInput(format!("bad signature: {e}")))?;
    sig.recover_address_from_prehash(&hash)
        .map(Address)
        .map_err(|e| OracleError::InvalidInput(format!("signature does not recover: {e}")))
}

#[cfg(test)]
mod tests {
    use alloy::{primitives::keccak256, signers::SignerSync};

    use super::*;

    /// libsecp256k1's signature is byte for byte the one alloy's k256 signer makes (both RFC
    /// 6979, low-S), for several keys and many hashes, and recovers to the key's address.
    #[test]
    fn libsecp256k1_signatures_equal_alloys() {
        for k in 1u8..=3 {
            let signer = PrivateKeySigner::from_bytes(&keccak256([k; 32])).unwrap();
            let secret = secp256k1::SecretKey::from_byte_array(signer.to_bytes().0).unwrap();
            for i in 0u32..64 {
                let hash = keccak256(i.to_le_bytes());
                let fast = sign_prehash(&secret, &hash);
                let alloy = signer.sign_hash_sync(&hash).unwrap();
                assert_eq!(fast, alloy.as_bytes(), "key {k}, hash {i}");
                let sig = alloy::primitives::Signature::from_raw(&fast).unwrap();
                assert_eq!(
                    sig.recover_address_from_prehash(&hash).unwrap(),
                    signer.address()
                );
            }
        }
    }

    /// The vector of contracts/test (`test_encoding_vectors`, docs/CONTRACTS.md): the Rust
    /// struct hash must equal the contract's `receiptHash`.
    #[test]
    fn struct_hash_matches_the_contract_vector() {
        let word = |last: u8| {
            let mut b = [0u8; 32];
            b[31] = last;
            B256::from(b)
        };
        let r = Receipt {
            id: 0x0190000000000000000000000000002a,
            epoch: 3,
            model: word(0xaa),
            client: "0x1111111111111111111111111111111111111111"
                .parse()
                .unwrap(),
            price: U256::from(10u64.pow(15)),
            inputHash: word(1),
            outputHash: word(2),
            fingerprint: word(3),
            timestamp: 1_700_000_000_000,
        };
        assert_eq!(
            hex::encode(r.eip712_type_hash()),
            "1f6c774c6404d90867591ec7b3ba63961c61c309b5a8d68fadacd3b9538a0f32"
        );
        assert_eq!(
            hex::encode(r.eip712_hash_struct()),
            "fdb726e7d872359101a969fcf0036bc775ecce094bb97e7f95a9dc4c65b18b23"
        );
    }

    #[test]
    fn sign_and_recover() {
        let cfg = MeteringConfig {
            operator_key: Some(
                "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d".into(),
            ),
            ..Default::default()
        };
        let signer = ReceiptSigner::from_config(&cfg).unwrap();
        let mut r = ReceiptRecord {
            id: ulid::Ulid::new().to_string(),
            epoch: 7,
            model_id: "mdl_x".into(),
            model_name: "x".into(),
            weights_root: format!("0x{}", "11".repeat(32)),
            client: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
                .parse()
                .unwrap(),
            price_wei: Wei(1000),
            input_hash: format!("0x{}", "22".repeat(32)),
            output_hash: format!("0x{}", "33".repeat(32)),
            fingerprint: "ort=1.31.1".into(),
            fingerprint_hash: format!("0x{}", "44".repeat(32)),
            timestamp_ms: 1_700_000_000_000,
            signature: String::new(),
        };
        signer.sign(&mut r).unwrap();
        assert_eq!(
            recover_signer(&r, signer.domain()).unwrap(),
            signer.operator()
        );
        // Any change to a signed field changes the signer.
        let mut tampered = r.clone();
        tampered.price_wei = Wei(1);
        assert_ne!(
            recover_signer(&tampered, signer.domain()).unwrap(),
            signer.operator()
        );
        // Another domain (chain) does not verify.
        let other = domain(1, EthAddress::ZERO);
        assert_ne!(recover_signer(&r, &other).unwrap(), signer.operator());
        assert!(ReceiptSigner::from_config(&MeteringConfig::default()).is_err());
    }
}

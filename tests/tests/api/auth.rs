//! API keys and Sign-In with Ethereum.

use reqwest::StatusCode;

use crate::{both_backends, helpers::*};

async fn bad_and_missing_keys(b: Backend) {
    let srv = TestServer::start(b).await;
    let anon = srv.client();
    for (client, what) in [
        (anon.clone(), "no key"),
        (
            anon.with_key("imo_0000000000000000000000000000000000000000000000000000000000000000"),
            "unknown key",
        ),
        (anon.with_key("garbage"), "malformed key"),
    ] {
        let err = client.whoami().await.unwrap_err();
        assert_eq!(
            (err.status(), err.code()),
            (Some(StatusCode::UNAUTHORIZED), Some("unauthenticated")),
            "{what}"
        );
        let err = refused_upload(&client).await;
        assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED), "{what}");
    }
    assert!(srv.stored_files().is_empty());

    // Keys are bound to an address and a role; revoked keys stop working.
    let p = srv.key(&signer(1), "publisher").await;
    let me = p.whoami().await.unwrap();
    assert_eq!(
        (me.address.as_str(), me.role.as_str()),
        (signer(1).address().to_string().as_str(), "publisher")
    );
    p.revoke_key(&me.key_id).await.unwrap();
    assert_eq!(
        p.whoami().await.unwrap_err().status(),
        Some(StatusCode::UNAUTHORIZED)
    );

    // Only admins create keys for others; the key is stored only as a hash.
    let admin = srv.key(&admin_signer(), "admin").await;
    let other = srv.key(&signer(2), "publisher").await;
    let addr = signer(3).address().to_string();
    assert_eq!(
        other
            .create_key(&addr, "client", "")
            .await
            .unwrap_err()
            .status(),
        Some(StatusCode::FORBIDDEN)
    );
    let issued = admin.create_key(&addr, "client", "ci").await.unwrap();
    assert!(issued.key.starts_with("imo_") && issued.key.len() == 68);
    assert_eq!(
        srv.client()
            .with_key(&issued.key)
            .whoami()
            .await
            .unwrap()
            .role,
        "client"
    );
    let err = admin.create_key("0x123", "client", "").await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    let err = admin.create_key(&addr, "overlord", "").await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    let stored = sea_orm::ConnectionTrait::query_one_raw(
        &srv.oracle.db,
        sea_orm::Statement::from_string(
            srv.oracle.db.get_database_backend(),
            "SELECT key_hash FROM api_keys WHERE id = '".to_owned() + &issued.id + "'",
        ),
    )
    .await
    .unwrap()
    .unwrap();
    let hash: String = stored.try_get("", "key_hash").unwrap();
    assert_ne!(hash, issued.key);
    assert!(!hash.contains(&issued.key[4..]));
    srv.finish().await;
}

/// Asserts that signing in with `message` signed by `wallet` (asking for `role`) is refused as
/// unauthenticated, saying `why`.
async fn sign_in_refused(
    anon: &imo_client::Client,
    wallet: &alloy::signers::local::PrivateKeySigner,
    message: &str,
    role: &str,
    why: &str,
) {
    let err = sign_in_with(anon, wallet, message, role).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED), "{why}: {err}");
    assert!(err.to_string().contains(why), "{why}: {err}");
}

async fn sign_in_with_ethereum(b: Backend) {
    let srv = TestServer::start(b).await;
    let anon = srv.client();
    let wallet = signer(7);
    let address = wallet.address().to_string();

    let n = anon.nonce().await.unwrap();
    assert_eq!((n.domain.as_str(), n.chain_id), ("imo.test", 31337));
    let msg = siwe_message(&n.domain, &address, &n.nonce, n.chain_id);
    let sig = sign(&wallet, &msg);
    let key = anon.sign_in(&msg, &sig, "publisher").await.unwrap();
    assert_eq!(key.address, address);
    let me = anon.with_key(&key.key).whoami().await.unwrap();
    assert_eq!(
        (me.address, me.role),
        (address.clone(), "publisher".to_owned())
    );

    // Replaying the same signed message: the nonce is spent.
    let err = anon.sign_in(&msg, &sig, "publisher").await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(StatusCode::UNAUTHORIZED), Some("sign_in_rejected"))
    );
    assert!(err.to_string().contains("nonce"), "{err}");

    // A message claiming one address, signed by another.
    let n = anon.nonce().await.unwrap();
    let msg = siwe_message(&n.domain, &address, &n.nonce, n.chain_id);
    sign_in_refused(&anon, &signer(8), &msg, "publisher", "not by").await;
    // ... and the nonce survives the failed attempt: the rightful owner can still use it.
    sign_in_with(&anon, &wallet, &msg, "client").await.unwrap();

    // Wrong domain, wrong chain, a nonce the server never issued, garbage.
    let n = anon.nonce().await.unwrap();
    for (msg, what) in [
        (
            siwe_message("evil.example", &address, &n.nonce, 31337),
            "domain",
        ),
        (siwe_message("imo.test", &address, &n.nonce, 1), "chain"),
        (
            siwe_message("imo.test", &address, "deadbeefdeadbeef", 31337),
            "nonce",
        ),
    ] {
        sign_in_refused(&anon, &wallet, &msg, "client", what).await;
    }
    let err = anon.sign_in("hello", "0x00", "client").await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
    let msg = siwe_message("imo.test", &address, &n.nonce, 31337);
    let err = anon.sign_in(&msg, "0x1234", "client").await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));

    // Admin keys only for configured addresses.
    let err = sign_in_with(&anon, &wallet, &msg, "admin")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
    let n = anon.nonce().await.unwrap();
    let admin = admin_signer();
    let msg = siwe_message(
        &n.domain,
        &admin.address().to_string(),
        &n.nonce,
        n.chain_id,
    );
    assert_eq!(
        sign_in_with(&anon, &admin, &msg, "admin")
            .await
            .unwrap()
            .role,
        "admin"
    );
    srv.finish().await;
}

async fn expired_nonce_is_rejected(b: Backend) {
    let srv = TestServer::start_with(b, |c| c.auth.nonce_ttl_secs = 0).await;
    let anon = srv.client();
    let wallet = signer(9);
    let n = anon.nonce().await.unwrap();
    let msg = siwe_message(
        &n.domain,
        &wallet.address().to_string(),
        &n.nonce,
        n.chain_id,
    );
    sign_in_refused(&anon, &wallet, &msg, "client", "expired").await;
    srv.finish().await;
}

both_backends!(
    bad_and_missing_keys,
    sign_in_with_ethereum,
    expired_nonce_is_rejected
);

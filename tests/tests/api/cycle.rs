//! The whole royalty cycle on a real anvil, real ONNX Runtime and a real model, driven by the
//! same service functions the scheduler runs (`pump`, `index`, `epochs`): a publisher
//! tokenizes a model, gives 30 % of its tokens to a holder; a client deposits, signs a spending
//! cap and makes 100 metered calls; the epoch closes, is attested, survives its challenge
//! window (anvil time-travels), is finalized; the holder claims exactly its share; the client
//! withdraws the rest; and every wei is accounted for. Plus: a deliberately wrong attestation
//! (test-only fault injection) loses its bond to a client holding a signed receipt, and the
//! service unwinds and re-attests the corrected tree; the RPC going away mid-cycle.

use std::time::Duration;

use alloy::{
    primitives::{Address as EthAddress, B256, Bytes, U256},
    rpc::types::TransactionReceipt,
    sol_types::SolStruct,
};
use imo_client::Client;
use imo_oracle::{
    chain::{
        bindings::{ModelToken, PaymentVault, UsageOracle},
        vault::{SpendingCap, vault_domain},
    },
    receipts::ReceiptRecord,
};

use crate::{both_backends, helpers::*};

const PRICE: u128 = 1_000_000_000_000_000; // 0.001 ETH per call
const ETH: u128 = 1_000_000_000_000_000_000;
const FEE_BPS: u128 = 500;
const WINDOW: u64 = 100;
const WITHDRAWAL_DELAY: u64 = 300;

pub struct World {
    pub anvil: Anvil,
    pub srv: TestServer,
    pub chain: imo_oracle::chain::ChainLoop,
    pub publisher: PrivateKeySigner,
    pub client: PrivateKeySigner,
    pub holder: PrivateKeySigner,
    pub publisher_api: Client,
    pub client_api: Client,
}

impl World {
    pub async fn start(b: Backend, tweak: impl FnOnce(&mut imo_oracle::config::Config)) -> Self {
        let anvil = Anvil::spawn().await;
        Self::start_on(b, anvil, tweak).await
    }

    /// [`World::start`] with the service's RPC behind an [`RpcProxy`] the test can cut (and an
    /// RPC timeout of 2 s).
    pub async fn behind_proxy(b: Backend) -> (Self, RpcProxy) {
        let anvil = Anvil::spawn().await;
        let proxy = RpcProxy::start(&anvil.url).await;
        let rpc = proxy.url.clone();
        let w = Self::start_on(b, anvil, |cfg| {
            cfg.chain.rpc_url = rpc;
            cfg.chain.rpc_timeout_secs = 2;
        })
        .await;
        (w, proxy)
    }

    pub async fn start_on(
        b: Backend,
        anvil: Anvil,
        tweak: impl FnOnce(&mut imo_oracle::config::Config),
    ) -> Self {
        let rpc = anvil.url.clone();
        let srv = TestServer::start_with(b, |cfg| {
            cfg.chain.rpc_url = rpc;
            cfg.chain.enabled = true;
            cfg.chain.jobs = vec![]; // the tests run each pass themselves
            cfg.chain.challenge_window_secs = WINDOW;
            cfg.chain.response_window_secs = 50;
            cfg.chain.withdrawal_delay_secs = WITHDRAWAL_DELAY;
            cfg.chain.fee_bps = FEE_BPS as u16;
            cfg.chain.epoch_grace_secs = 1;
            cfg.metering.epoch_secs = 2;
            tweak(cfg)
        })
        .await;
        let chain = srv.oracle.chain.clone().expect("chain loop on");
        let (publisher, client, holder) = (signer(31), signer(32), signer(33));
        for s in [&publisher, &client, &holder] {
            anvil.set_balance(s.address(), U256::from(100 * ETH)).await;
        }
        let publisher_api = srv.key(&publisher, "publisher").await;
        let client_api = srv.key(&client, "client").await;
        Self {
            anvil,
            srv,
            chain,
            publisher,
            client,
            holder,
            publisher_api,
            client_api,
        }
    }

    pub fn wallet(&self, s: &PrivateKeySigner) -> DynProvider {
        self.anvil.wallet(s)
    }

    /// One pass of each job, as the scheduler runs them; any error fails the test. True if
    /// any job did something.
    pub async fn tick(&self) -> bool {
        let txs = self.chain.ctx.txm.pump().await.expect("transactions pass");
        let tokens = self.chain.tokens.reconcile().await.expect("token pass");
        let index = self.chain.vault.pass().await.expect("index pass");
        let epochs = self.chain.epochs.pass().await.expect("epochs pass");
        txs != Default::default() || tokens > 0 || index.applied > 0 || epochs != Default::default()
    }

    /// Moves the service's clock to where the epochs job may close `epoch`
    /// (`(epoch + 1) × epoch_secs + epoch_grace_secs`): nobody waits for wall-clock epochs.
    pub fn until_closable(&self, epoch: u64) {
        let secs = self.srv.oracle.config.metering.epoch_secs;
        let grace = self.chain.config().epoch_grace_secs;
        let at_ms = ((epoch + 1) * secs + grace) * 1000;
        self.srv.clock.set_at_least(at_ms as i64);
    }

    /// The epoch the service's clock is in.
    pub fn current_epoch(&self) -> u64 {
        self.srv
            .oracle
            .epochs
            .epoch_of(imo_oracle::clock::Clock::now_ms(self.srv.clock.as_ref()))
    }

    /// Runs passes until `cond` holds, at most `secs` seconds. On anvil (automine, chain time
    /// moved by the test) every step but an epoch's close is ready at the next pass, so a pass
    /// that does nothing is followed by moving the clock to where the current epoch closes.
    pub async fn until<F, Fut>(&self, what: &str, secs: u64, mut cond: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let progressed = self.tick().await;
            if cond().await {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out after {secs} s waiting for: {what}"
            );
            if !progressed {
                // With more than one confirmation, the chain must grow for anything to be final.
                if self.chain.config().confirmations > 1 {
                    self.anvil.mine(1).await;
                }
                self.until_closable(self.current_epoch());
            }
        }
    }

    pub fn vault(&self) -> PaymentVault::PaymentVaultInstance<DynProvider> {
        PaymentVault::new(self.chain.deployment().vault.0, self.anvil.provider())
    }

    /// The client's balance in the vault, as the contract holds it.
    pub async fn client_in_vault(&self) -> U256 {
        self.vault()
            .balanceOf(self.client.address())
            .call()
            .await
            .unwrap()
    }

    pub fn oracle(&self) -> UsageOracle::UsageOracleInstance<DynProvider> {
        UsageOracle::new(self.chain.deployment().oracle.0, self.anvil.provider())
    }

    /// Uploads tiny-mlp and tokenizes it (1,000,000 tokens, 80 % of revenue to holders),
    /// waiting until the registration is final. Returns (model id, token address).
    pub async fn tokenized_model(&self) -> (String, EthAddress) {
        let model = self
            .srv
            .register(&self.publisher_api, "tiny_mlp.onnx", "tiny-mlp", PRICE)
            .await;
        // Before tokenization the model is not metered in chain mode.
        let (status, body) = self.call_tiny().await;
        assert_eq!(status.as_u16(), 409, "{body}");
        let t = self
            .publisher_api
            .tokenize(&model.id, "Tiny MLP", "TMLP", "1000000", 8000)
            .await
            .expect("tokenize");
        assert_eq!(t.state, "tokenizing");
        // Another publisher may not tokenize it; asking again is idempotent.
        let other = self.srv.key(&signer(34), "publisher").await;
        let e = other
            .tokenize(&model.id, "Tiny MLP", "TMLP", "1000000", 8000)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("forbidden"));
        let again = self
            .publisher_api
            .tokenize(&model.id, "Tiny MLP", "TMLP", "1000000", 8000)
            .await
            .unwrap();
        assert_eq!(
            again.transaction.as_ref().unwrap().key,
            t.transaction.as_ref().unwrap().key
        );
        let e = self
            .publisher_api
            .tokenize(&model.id, "Tiny MLP", "TMLP", "999", 8000)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("conflict"));
        self.until_tokenized(&model.id, "the model is tokenized")
            .await;
        let t = self.publisher_api.token(&model.id).await.unwrap();
        let token: EthAddress = t.token_address.unwrap().parse().unwrap();
        // The model's own state says so too (its listing shows the token's state).
        let listed = self.publisher_api.list_models(&[]).await.unwrap().models;
        let m = listed.iter().find(|m| m.id == model.id).unwrap();
        assert_eq!(m.state, "tokenized");
        assert_eq!(m.token_state.as_deref(), Some("tokenized"));
        let tx = t.transaction.unwrap();
        assert_eq!(tx.state, "final");
        assert!(
            tx.gas_used.unwrap() > 300_000,
            "register gas {:?}",
            tx.gas_used
        );
        let erc = ModelToken::new(token, self.anvil.provider());
        assert_eq!(
            erc.balanceOf(self.publisher.address())
                .call()
                .await
                .unwrap(),
            U256::from(1_000_000u64) * U256::from(ETH)
        );
        assert_eq!(erc.claimableBps().call().await.unwrap(), 8000);
        (model.id, token)
    }

    /// Tokenizes model `id` as `name` (`symbol`; 1,000,000 tokens, 80 % of revenue to the
    /// holders) and runs passes until it is tokenized.
    pub async fn tokenize(&self, id: &str, name: &str, symbol: &str) {
        self.publisher_api
            .tokenize(id, name, symbol, "1000000", 8000)
            .await
            .expect("tokenize");
        self.until_tokenized(id, &format!("{name} is tokenized"))
            .await;
    }

    /// Runs passes until the model `id` is tokenized (`what`), at most 30 s.
    pub async fn until_tokenized(&self, id: &str, what: &str) {
        let api = self.publisher_api.clone();
        self.until(what, 30, || {
            let (api, id) = (api.clone(), id.to_owned());
            async move { api.token(&id).await.unwrap().state == "tokenized" }
        })
        .await;
    }

    /// The client deposits `amount` and authorises `cap`; waits until metering sees both.
    pub async fn fund_client(&self, amount: u128, cap: u128) {
        let vault = PaymentVault::new(self.chain.deployment().vault.0, self.wallet(&self.client));
        let r = mined(vault.deposit().value(U256::from(amount))).await;
        assert!(r.status());
        let (_, now) = chain_time(&self.anvil).await;
        let deadline = now + 3600;
        let typed = SpendingCap {
            client: self.client.address(),
            cap: U256::from(cap),
            deadline: U256::from(deadline),
        };
        let domain = vault_domain(CHAIN_ID, self.chain.deployment().vault.0);
        let sig = self
            .client
            .sign_hash_sync(&typed.eip712_signing_hash(&domain))
            .unwrap();
        let sig = format!("0x{}", hex::encode(sig.as_bytes()));
        // A signature by someone else, or for another amount, is refused.
        let e = self
            .client_api
            .spending_cap(
                &self.client.address().to_string(),
                &(cap + 1).to_string(),
                deadline,
                &sig,
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("invalid_input"), "{e:?}");
        let accepted = self
            .client_api
            .spending_cap(
                &self.client.address().to_string(),
                &cap.to_string(),
                deadline,
                &sig,
            )
            .await
            .expect("spending cap");
        assert_eq!(accepted.cap_wei, cap.to_string());
        let api = self.client_api.clone();
        self.until("the deposit and the cap are indexed", 30, || {
            let api = api.clone();
            async move {
                let b = api.balance().await.unwrap();
                b.balance_wei == amount.to_string() && b.cap_wei == cap.to_string()
            }
        })
        .await;
    }

    /// One call of tiny-mlp by the client, whatever its answer: the status and the body.
    pub async fn call_tiny(&self) -> (reqwest::StatusCode, serde_json::Value) {
        self.client_api
            .infer_json("tiny-mlp", &infer_body())
            .await
            .unwrap()
    }

    /// `n` metered calls; returns their receipts.
    pub async fn calls(&self, n: usize) -> Vec<ReceiptRecord> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(metered_call(&self.client_api).await);
        }
        out
    }

    /// `n` metered calls within one epoch (the batch again while it straddles an epoch
    /// boundary); their receipts.
    pub async fn calls_in_one_epoch(&self, n: usize) -> Vec<ReceiptRecord> {
        loop {
            let r = self.calls(n).await;
            if r.iter().all(|x| x.epoch == r[0].epoch) {
                return r;
            }
        }
    }

    /// The client challenges its receipt `r` of `epoch` with the challenge bond (committed to
    /// first): the oracle as the client's wallet calls it, the bond, the mined challenge.
    pub async fn challenge_receipt(
        &self,
        epoch: u64,
        r: &ReceiptRecord,
    ) -> (
        UsageOracle::UsageOracleInstance<DynProvider>,
        U256,
        TransactionReceipt,
    ) {
        let oracle_c =
            UsageOracle::new(self.chain.deployment().oracle.0, self.wallet(&self.client));
        let bond = oracle_c.challengeBond().call().await.unwrap();
        let typed = r.typed().unwrap();
        let receipt = imo_oracle::chain::epochs::sol_receipt(&typed);
        let sig: Bytes = hex::decode(r.signature.trim_start_matches("0x"))
            .unwrap()
            .into();
        let call = oracle_c.challengeReceipt(epoch, receipt, sig).value(bond);
        commit_to(&oracle_c, self.client.address(), call.calldata()).await;
        let challenged = mined(call).await;
        (oracle_c, bond, challenged)
    }

    /// The transaction intents that `keep` keeps.
    pub async fn intents(
        &self,
        keep: impl Fn(&imo_oracle::chain::txm::Intent) -> bool,
    ) -> Vec<imo_oracle::chain::txm::Intent> {
        let mut all = self.chain.txm().list(None).await.unwrap();
        all.retain(|i| keep(i));
        all
    }

    /// Waits until every epoch of `receipts` is in `state`.
    pub async fn until_epochs(&self, receipts: &[ReceiptRecord], state: &str, secs: u64) {
        let mut epochs: Vec<u64> = receipts.iter().map(|r| r.epoch).collect();
        epochs.dedup();
        let api = self.client_api.clone();
        self.until(&format!("epochs {epochs:?} {state}"), secs, || {
            let (api, epochs) = (api.clone(), epochs.clone());
            async move { epochs_in(&api, &epochs, state).await }
        })
        .await;
    }

    pub async fn finish(self) {
        self.srv.finish().await;
    }
}

/// Commit–reveal: the UsageOracle takes a challenge or a fraud proof only from whoever
/// committed to its exact calldata in an earlier block (anvil automines: the next transaction
/// is the next block).
pub async fn commit_to(
    oracle: &UsageOracle::UsageOracleInstance<DynProvider>,
    from: EthAddress,
    calldata: &Bytes,
) {
    let c = oracle
        .commitmentOf(from, calldata.clone())
        .call()
        .await
        .unwrap();
    let r = mined(oracle.commit(c)).await;
    assert!(r.status(), "commitment recorded");
}

pub async fn chain_time(anvil: &Anvil) -> (u64, u64) {
    let b = anvil
        .provider()
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap();
    (b.header.number, b.header.timestamp)
}

fn gas_cost(r: &TransactionReceipt) -> u128 {
    r.gas_used as u128 * r.effective_gas_price
}

/// The ETH balance of `a`, in wei.
pub async fn eth(anvil: &Anvil, a: EthAddress) -> u128 {
    anvil.provider().get_balance(a).await.unwrap().to::<u128>()
}

async fn full_cycle(b: Backend) {
    let w = World::start(b, |_| {}).await;
    let (model_id, token) = w.tokenized_model().await;

    // The publisher gives 30 % of the supply to holder H.
    let supply = U256::from(1_000_000u64) * U256::from(ETH);
    let share = supply * U256::from(3u8) / U256::from(10u8);
    let r =
        mined(ModelToken::new(token, w.wallet(&w.publisher)).transfer(w.holder.address(), share))
            .await;
    assert!(r.status());

    // C deposits 1 ETH and authorises spending it.
    w.fund_client(ETH, ETH).await;
    let client_eth_before = eth(&w.anvil, w.client.address()).await;

    // 100 metered calls.
    let receipts = w.calls(100).await;
    let spent = 100 * PRICE;
    let b = w.client_api.balance().await.unwrap();
    assert_eq!(b.balance_wei, (ETH - spent).to_string());
    assert_eq!(b.spent_wei, spent.to_string());

    // The epoch(s) close and are attested.
    w.until_epochs(&receipts, "attested", 30).await;
    let mut epochs: Vec<u64> = receipts.iter().map(|r| r.epoch).collect();
    epochs.dedup();
    let mut attested_total = 0u128;
    for e in &epochs {
        let a = w.oracle().getAttestation(*e).call().await.unwrap();
        assert_eq!(a.status, 1, "epoch {e} posted");
        let n = receipts.iter().filter(|r| r.epoch == *e).count() as u128;
        assert_eq!(a.total, U256::from(n * PRICE), "epoch {e} total");
        assert_eq!(a.count as u128, n);
        assert_eq!(a.feeBps as u128, FEE_BPS);
        attested_total += a.total.to::<u128>();
        let view = w.client_api.epoch(*e).await.unwrap();
        assert_eq!(view.root, format!("{:#x}", a.root));
    }
    assert_eq!(attested_total, spent);
    assert_eq!(
        w.vault().escrowed().call().await.unwrap(),
        U256::from(spent)
    );

    // Every receipt's proof verifies against the attested root, on-chain.
    for r in receipts.iter().step_by(17).chain(receipts.last()) {
        let p = w.client_api.receipt_proof(&r.id).await.expect("proof");
        let a = w.oracle().getAttestation(r.epoch).call().await.unwrap();
        let proof: Vec<B256> = p.proof.iter().map(|h| h.parse().unwrap()).collect();
        let root = w
            .oracle()
            .computeRoot(p.leaf_hash.parse().unwrap(), p.index, proof)
            .call()
            .await
            .unwrap();
        assert_eq!(root, a.root, "receipt {} proof", r.id);
        assert_eq!(
            p.receipt_hash,
            format!("{:#x}", r.typed().unwrap().eip712_hash_struct())
        );
    }
    // Another client cannot read the proof of C's receipt.
    let other = w.srv.key(&signer(35), "client").await;
    let e = other.receipt_proof(&receipts[0].id).await.unwrap_err();
    assert_eq!(e.code(), Some("not_found"));

    // Nothing is paid before the window ends.
    let rev = w.client_api.revenue(&model_id).await.unwrap();
    assert!(rev.paid.is_empty());
    assert_eq!(rev.pending.len(), epochs.len());

    // anvil time-travels past the challenge window: finalize.
    w.anvil.time_travel(WINDOW + 1).await;
    w.until_epochs(&receipts, "finalized", 30).await;
    let fee: u128 = epochs
        .iter()
        .map(|e| {
            receipts.iter().filter(|r| r.epoch == *e).count() as u128 * PRICE * FEE_BPS / 10_000
        })
        .sum();
    let net = spent - fee;
    let rev = w.client_api.revenue(&model_id).await.unwrap();
    assert_eq!(rev.paid.len(), epochs.len());
    assert_eq!(rev.total_paid_wei, net.to_string());
    assert!(rev.pending.is_empty());
    assert_eq!(eth(&w.anvil, token).await, net);

    // H's claimable share, exactly: each payout splits 80 % to holders, H holds 30 %.
    let expected_h: u128 = rev
        .paid
        .iter()
        .map(|p| {
            let amount: u128 = p.amount_wei.parse().unwrap();
            amount * 8000 / 10_000 * 3 / 10
        })
        .sum();
    // A snapshot counts balances as of the end of its block (a balance held only within one
    // block earns nothing): it is claimable from the next block on.
    w.anvil.rpc("evm_mine", serde_json::json!([])).await;
    let c = w
        .client_api
        .claimable(&w.holder.address().to_string())
        .await
        .unwrap();
    assert_eq!(c.total_claimable_wei, expected_h.to_string());
    let ids: Vec<U256> = c.tokens[0]
        .snapshots
        .iter()
        .map(|s| U256::from(s.snapshot_id))
        .collect();
    assert_eq!(ids.len(), epochs.len());
    let before = eth(&w.anvil, w.holder.address()).await;
    let r = mined(ModelToken::new(token, w.wallet(&w.holder)).claimBatch(ids)).await;
    assert!(r.status());
    let after = eth(&w.anvil, w.holder.address()).await;
    assert_eq!(
        after,
        before - gas_cost(&r) + expected_h,
        "H receives its share to the wei"
    );
    let c = w
        .client_api
        .claimable(&w.holder.address().to_string())
        .await
        .unwrap();
    assert_eq!(c.total_claimable_wei, "0");

    // C withdraws what it did not spend, after the delay; the service stops serving it.
    let vault_c = PaymentVault::new(w.chain.deployment().vault.0, w.wallet(&w.client));
    let left = ETH - spent;
    assert_eq!(w.client_in_vault().await, U256::from(left));
    let r1 = mined(vault_c.requestWithdrawal(U256::from(left))).await;
    let api = w.client_api.clone();
    w.until("the withdrawal request is indexed", 30, || {
        let api = api.clone();
        async move { api.balance().await.unwrap().held_wei == left.to_string() }
    })
    .await;
    let (status, body) = w.call_tiny().await;
    assert_eq!(
        status.as_u16(),
        402,
        "a held balance is not served against: {body}"
    );
    w.anvil.time_travel(WITHDRAWAL_DELAY + 1).await;
    let r2 = mined(vault_c.withdraw()).await;
    assert!(r2.status());
    let client_eth_after = eth(&w.anvil, w.client.address()).await;
    assert_eq!(
        client_eth_after,
        client_eth_before - gas_cost(&r1) - gas_cost(&r2) + left,
        "C gets its unspent deposit back to the wei"
    );
    w.until("the withdrawal is indexed", 30, || {
        let api = api.clone();
        async move {
            let b = api.balance().await.unwrap();
            b.balance_wei == "0" && b.held_wei == "0"
        }
    })
    .await;

    // Everything adds up: the deposit went to the client (withdrawn), the token (net) and
    // the treasury (fee); the vault keeps nothing else.
    let vault = w.vault();
    assert_eq!(vault.feesOwed().call().await.unwrap(), U256::from(fee));
    assert_eq!(vault.escrowed().call().await.unwrap(), U256::ZERO);
    assert_eq!(vault.totalBalances().call().await.unwrap(), U256::ZERO);
    assert_eq!(eth(&w.anvil, w.chain.deployment().vault.0).await, fee);
    assert_eq!(left + net + fee, ETH);
    let token_eth = eth(&w.anvil, token).await;
    let erc = ModelToken::new(token, w.anvil.provider());
    let p_claimable: u128 = {
        let c = w
            .client_api
            .claimable(&w.publisher.address().to_string())
            .await
            .unwrap();
        c.total_claimable_wei.parse().unwrap()
    };
    let redeem_pool = erc.redeemPool().call().await.unwrap().to::<u128>();
    // The token holds the publisher's unclaimed 70 % of the holders' share plus the rounding
    // dust, and the redeem pool.
    assert_eq!(token_eth, net - expected_h);
    assert!(token_eth >= p_claimable + redeem_pool);
    assert!(token_eth - p_claimable - redeem_pool < 10, "dust only");
    // The operator's bonds came back as credits.
    let credits = w
        .oracle()
        .credits(w.chain.txm().sender())
        .call()
        .await
        .unwrap();
    assert_eq!(
        credits,
        w.oracle().attestBond().call().await.unwrap() * U256::from(epochs.len())
    );
    // Repeated passes change nothing: no second finalize, no second credit.
    let intents = w.chain.txm().list(None).await.unwrap();
    w.tick().await;
    w.tick().await;
    assert_eq!(w.chain.txm().list(None).await.unwrap().len(), intents.len());
    let finalizes = intents.iter().filter(|i| i.kind == "finalize").count();
    assert_eq!(finalizes, epochs.len());
    assert!(
        intents.iter().all(|i| i.state.as_str() == "final"),
        "{intents:#?}"
    );
    w.finish().await;
}

/// A wrong attestation (round 1 leaves the epoch's last receipt out) is challenged by the
/// client holding that receipt: the operator cannot answer, the challenge is upheld, the
/// client gets its bond back plus half the operator's bond; the service unwinds and attests
/// the corrected tree, which then finalizes paying the full total.
async fn wrong_attestation_loses_its_bond(b: Backend) {
    let w = World::start(b, |cfg| {
        cfg.chain.fault_injection = Some("omit-last-receipt".into());
    })
    .await;
    let (model_id, _token) = w.tokenized_model().await;
    w.fund_client(ETH, ETH).await;
    // Calls within one epoch (retry the batch if it straddles an epoch boundary).
    let receipts = w.calls_in_one_epoch(3).await;
    let epoch = receipts[0].epoch;
    let all_receipts: Vec<ReceiptRecord> = w
        .client_api
        .receipts(&[("limit", "1000")])
        .await
        .unwrap()
        .receipts
        .into_iter()
        .map(|v| serde_json::from_value(serde_json::to_value(v).unwrap()).unwrap())
        .collect();
    let in_epoch: Vec<&ReceiptRecord> = all_receipts.iter().filter(|r| r.epoch == epoch).collect();
    w.until_epochs(&receipts, "attested", 30).await;
    let a = w.oracle().getAttestation(epoch).call().await.unwrap();
    assert_eq!(
        a.count as usize,
        in_epoch.len() - 1,
        "the fault left one receipt out"
    );

    // The client asks for its proofs: the last one is missing from the tree.
    let last = in_epoch.iter().max_by_key(|r| &r.id).unwrap();
    let e = w.client_api.receipt_proof(&last.id).await.unwrap_err();
    assert_eq!(e.code(), Some("not_found"), "{e:?}");

    // It challenges with the signed receipt, posting the challenge bond.
    let (oracle_c, bond, r) = w.challenge_receipt(epoch, last).await;
    assert!(r.status(), "challenge accepted");
    let challenge_id = U256::ZERO;
    // The service sees the challenge and finds no leaf to answer with.
    w.tick().await;
    w.tick().await;
    let c = w.oracle().getChallenge(challenge_id).call().await.unwrap();
    assert_eq!(
        c.status, 1,
        "still open: the operator had nothing to answer with"
    );
    // After the response window the client resolves it and wins.
    w.anvil.time_travel(51).await;
    let client_eth = eth(&w.anvil, w.client.address()).await;
    let r1 = mined(oracle_c.resolveChallenge(challenge_id)).await;
    assert!(r1.status());
    assert_eq!(
        w.oracle()
            .getChallenge(challenge_id)
            .call()
            .await
            .unwrap()
            .status,
        3
    );
    let attest_bond = w.oracle().attestBond().call().await.unwrap();
    let credit = w.oracle().credits(w.client.address()).call().await.unwrap();
    assert_eq!(
        credit,
        bond + attest_bond / U256::from(2u8),
        "bond back + half the attester's"
    );
    let r2 = mined(oracle_c.withdrawCredits()).await;
    assert_eq!(
        eth(&w.anvil, w.client.address()).await,
        client_eth - gas_cost(&r1) - gas_cost(&r2) + credit.to::<u128>()
    );

    // The service unwinds and attests the full tree in round 2; it finalizes paying everything.
    let api = w.client_api.clone();
    w.until("round 2 is attested", 30, || {
        let api = api.clone();
        async move {
            let v = api.epoch(epoch).await.unwrap();
            v.round == 2 && v.state == "attested"
        }
    })
    .await;
    let a = w.oracle().getAttestation(epoch).call().await.unwrap();
    assert_eq!(a.round, 2);
    assert_eq!(a.count as usize, in_epoch.len());
    let p = w
        .client_api
        .receipt_proof(&last.id)
        .await
        .expect("now included");
    assert_eq!(p.round, 2);
    w.anvil.time_travel(WINDOW + 1).await;
    w.until_epochs(&receipts, "finalized", 30).await;
    let rev = w.client_api.revenue(&model_id).await.unwrap();
    let paid: u128 = rev
        .paid
        .iter()
        .filter(|p| p.epoch == epoch)
        .map(|p| p.amount_wei.parse::<u128>().unwrap())
        .sum();
    let total = in_epoch.len() as u128 * PRICE;
    assert_eq!(paid, total - total * FEE_BPS / 10_000);
    w.finish().await;
}

/// Challenges that the operator can answer are answered by the epochs job on its own: a
/// client challenges one of its receipts that the tree does hold (bonded), and a watcher forces
/// a leaf into the open; the service responds to both with inclusion proofs, both are rejected
/// (each bond: half to the operator, half burned), and the epoch finalizes as attested.
async fn answerable_challenges_are_answered(b: Backend) {
    let w = World::start(b, |_| {}).await;
    let (model_id, _token) = w.tokenized_model().await;
    w.fund_client(ETH, ETH).await;
    let receipts = w.calls_in_one_epoch(3).await;
    let epoch = receipts[0].epoch;
    w.until_epochs(&receipts, "attested", 30).await;
    let a = w.oracle().getAttestation(epoch).call().await.unwrap();

    let (_, bond, r) = w.challenge_receipt(epoch, &receipts[1]).await;
    assert!(r.status(), "receipt challenge accepted");
    let oracle_h = UsageOracle::new(w.chain.deployment().oracle.0, w.wallet(&w.holder));
    let call = oracle_h.challengeLeaf(epoch, a.count - 1).value(bond);
    commit_to(&oracle_h, w.holder.address(), call.calldata()).await;
    let r = mined(call).await;
    assert!(r.status(), "leaf challenge accepted");
    assert_eq!(
        w.oracle()
            .getAttestation(epoch)
            .call()
            .await
            .unwrap()
            .openChallenges,
        2
    );

    let oracle = w.oracle();
    w.until("both challenges are answered", 30, || {
        let oracle = oracle.clone();
        async move {
            let s0 = oracle.getChallenge(U256::ZERO).call().await.unwrap().status;
            let s1 = oracle
                .getChallenge(U256::from(1))
                .call()
                .await
                .unwrap()
                .status;
            s0 == 2 && s1 == 2
        }
    })
    .await;
    let responds = w.intents(|i| i.kind == "respond").await;
    assert_eq!(responds.len(), 2, "{responds:#?}");
    let op = w.chain.txm().sender();
    assert_eq!(
        w.oracle().credits(op).call().await.unwrap(),
        bond,
        "half of each rejected bond goes to the operator"
    );
    assert_eq!(w.oracle().burned().call().await.unwrap(), bond);

    // The attestation stands and finalizes, paying the attested total.
    w.anvil.time_travel(WINDOW + 1).await;
    w.until_epochs(&receipts, "finalized", 30).await;
    let in_epoch = a.count as u128;
    let rev = w.client_api.revenue(&model_id).await.unwrap();
    let total = in_epoch * PRICE;
    assert_eq!(
        rev.total_paid_wei,
        (total - total * FEE_BPS / 10_000).to_string()
    );
    assert_eq!(
        w.oracle().credits(op).call().await.unwrap(),
        bond + w.oracle().attestBond().call().await.unwrap(),
        "the attestation bond came back too"
    );
    w.finish().await;
}

/// The status and code of an API error (a success fails the test).
fn code<T: std::fmt::Debug>(
    r: Result<T, imo_client::ClientError>,
) -> (Option<u16>, Option<String>) {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => (e.status().map(|s| s.as_u16()), e.code().map(str::to_owned)),
    }
}

/// Bad input to the chain endpoints gets a clear error with a stable code and changes nothing;
/// with the RPC down, the chain reads answer 503 `chain_unavailable`; with the chain loop off,
/// every chain endpoint answers 409 `chain_disabled`.
async fn chain_endpoints_reject_bad_input(b: Backend) {
    let (w, proxy) = World::behind_proxy(b).await;
    let (model_id, _token) = w.tokenized_model().await;
    let (tokens, intents) = (
        w.srv.row_count("model_tokens").await,
        w.srv.row_count("tx_intents").await,
    );
    let is = |got: (Option<u16>, Option<String>), status: u16, c: &str| {
        assert_eq!(got, (Some(status), Some(c.to_owned())));
    };
    for (why, name, symbol, supply, bps) in [
        ("a lowercase symbol", "Tiny", "tiny", "1000", 8000),
        ("no supply", "Tiny", "TINY", "0", 8000),
        ("a fractional supply", "Tiny", "TINY", "1.5", 8000),
        ("over 100 % to holders", "Tiny", "TINY", "1000", 10_001),
        ("no name", "", "TINY", "1000", 8000),
    ] {
        let r = w
            .publisher_api
            .tokenize(&model_id, name, symbol, supply, bps)
            .await;
        let bad_request = (Some(400), Some("bad_request".to_owned()));
        assert_eq!(code(r), bad_request, "{why}");
    }
    is(
        code(
            w.publisher_api
                .tokenize("no-such-model", "T", "T", "1", 0)
                .await,
        ),
        404,
        "not_found",
    );
    is(
        code(w.srv.client().tokenize(&model_id, "T", "T", "1", 0).await),
        401,
        "unauthenticated",
    );
    // Malformed JSON and unknown fields.
    for body in [
        "{",
        r#"{"name":"T","symbol":"T","supply_tokens":"1","holders_bps":0,"x":1}"#,
    ] {
        let resp = w
            .publisher_api
            .request(
                reqwest::Method::POST,
                &format!("/v1/models/{model_id}/tokenize"),
            )
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{body}");
    }
    assert_eq!(w.srv.row_count("model_tokens").await, tokens);
    assert_eq!(w.srv.row_count("tx_intents").await, intents);

    // Spending caps: not hex, not 65 bytes, signed by another key, for another amount, for
    // another client's address, a deadline in the past.
    let vault = w.chain.deployment().vault.0;
    let (_, now) = chain_time(&w.anvil).await;
    let client = w.client.address().to_string();
    let sign = |s: &PrivateKeySigner, cap: u128, deadline: u64| {
        imo_client::wallet::sign_spending_cap(s, CHAIN_ID, vault, U256::from(cap), deadline)
            .unwrap()
            .signature
    };
    let good = sign(&w.client, ETH, now + 3600);
    for (who, cap, deadline, sig, status, c) in [
        (
            client.clone(),
            ETH,
            now + 3600,
            "0xzz".to_owned(),
            400,
            "invalid_input",
        ),
        (
            client.clone(),
            ETH,
            now + 3600,
            "0x1234".to_owned(),
            400,
            "invalid_input",
        ),
        (
            client.clone(),
            ETH,
            now + 3600,
            sign(&w.holder, ETH, now + 3600),
            400,
            "invalid_input",
        ),
        (
            client.clone(),
            2 * ETH,
            now + 3600,
            good.clone(),
            400,
            "invalid_input",
        ),
        (
            client.clone(),
            ETH,
            now - 10,
            sign(&w.client, ETH, now - 10),
            400,
            "invalid_input",
        ),
        (
            w.holder.address().to_string(),
            ETH,
            now + 3600,
            good.clone(),
            403,
            "forbidden",
        ),
    ] {
        is(
            code(
                w.client_api
                    .spending_cap(&who, &cap.to_string(), deadline, &sig)
                    .await,
            ),
            status,
            c,
        );
    }
    assert_eq!(w.srv.row_count("spending_caps").await, 0);
    assert_eq!(w.srv.row_count("tx_intents").await, intents);
    // A cap must rise: once this one is indexed, the same cap again is a conflict.
    w.client_api
        .spending_cap(&client, &ETH.to_string(), now + 3600, &good)
        .await
        .unwrap();
    let api = w.client_api.clone();
    w.until("the cap is indexed", 30, || {
        let api = api.clone();
        async move { api.balance().await.unwrap().cap_wei == ETH.to_string() }
    })
    .await;
    let again = sign(&w.client, ETH, now + 3000);
    is(
        code(
            w.client_api
                .spending_cap(&client, &ETH.to_string(), now + 3000, &again)
                .await,
        ),
        409,
        "conflict",
    );

    // Reads: an unknown epoch, an unknown receipt, a bad address, a non-admin listing.
    is(code(w.client_api.epoch(1).await), 404, "not_found");
    is(
        code(
            w.client_api
                .receipt_proof("01ARZ3NDEKTSV4RRFFQ69G5FAV")
                .await,
        ),
        404,
        "not_found",
    );
    is(
        code(w.client_api.claimable("0x1234").await),
        400,
        "invalid_input",
    );
    is(
        code(w.client_api.transactions(None).await),
        403,
        "forbidden",
    );
    let admin = w.srv.key(&admin_signer(), "admin").await;
    is(
        code(admin.transactions(Some("bogus")).await),
        400,
        "invalid_input",
    );
    let listed = admin.transactions(None).await.unwrap().transactions;
    assert_eq!(listed.len() as i64, intents + 1, "{listed:#?}");
    assert_eq!(
        listed.iter().filter(|t| t.kind == "cap").count(),
        1,
        "{listed:#?}"
    );
    // Admin credits are refused: balances come from deposits only.
    is(code(admin.credit(&client, "1000").await), 409, "conflict");

    // The RPC down: the chain reads say so, metering reads do not need it.
    proxy.down();
    let holder = w.holder.address().to_string();
    is(
        code(w.client_api.claimable(&holder).await),
        503,
        "chain_unavailable",
    );
    assert_eq!(
        w.client_api.balance().await.unwrap().cap_wei,
        ETH.to_string()
    );
    proxy.up();
    assert_eq!(
        w.client_api
            .claimable(&holder)
            .await
            .unwrap()
            .total_claimable_wei,
        "0"
    );
    w.finish().await;

    // The chain loop off: every chain endpoint says so.
    let srv = TestServer::start(b).await;
    let api = srv.key(&signer(36), "publisher").await;
    is(code(api.contracts().await), 409, "chain_disabled");
    is(
        code(api.tokenize("x", "T", "T", "1", 0).await),
        409,
        "chain_disabled",
    );
    is(code(api.epoch(1).await), 409, "chain_disabled");
    is(code(api.claimable(&holder).await), 409, "chain_disabled");
    srv.finish().await;
}

/// The challenge stream follows the same rules as the vault's: a challenge whose block a reorg
/// removes before its confirmations is never answered (nor recorded), and a reorg deeper than
/// the confirmations under the stream's cursor stops the follower with a clear error.
async fn challenges_need_confirmations_and_survive_reorgs(b: Backend) {
    let w = World::start(b, |cfg| cfg.chain.confirmations = 3).await;
    w.tokenized_model().await;
    w.fund_client(ETH, ETH).await;
    let receipts = w.calls_in_one_epoch(2).await;
    let epoch = receipts[0].epoch;
    w.until_epochs(&receipts, "attested", 60).await;
    let responses = || async { w.intents(|i| i.key.starts_with("respond:")).await.len() };

    // The client challenges one of its receipts (the tree holds it: the operator could answer).
    let (_, _, r) = w.challenge_receipt(epoch, &receipts[0]).await;
    assert!(r.status(), "challenge accepted");
    // Mined, not confirmed: passes neither record nor answer it.
    w.tick().await;
    w.tick().await;
    assert_eq!(w.srv.row_count("challenges").await, 0);
    assert_eq!(responses().await, 0);
    // A reorg replaces the commitment's and the challenge's blocks with empty ones.
    w.anvil.reorg(2).await;
    assert!(
        w.anvil.tx_receipt(r.transaction_hash).await.is_none(),
        "the challenge is gone"
    );
    w.anvil.mine(5).await;
    for _ in 0..3 {
        w.tick().await;
    }
    assert_eq!(
        w.oracle().challengeCount().call().await.unwrap(),
        U256::ZERO,
        "no challenge on-chain"
    );
    assert_eq!(w.srv.row_count("challenges").await, 0, "none recorded");
    assert_eq!(responses().await, 0, "none answered");

    // A reorg deeper than the confirmations under the cursor: the follower stops and says why.
    w.anvil.reorg(4).await;
    let e = w.chain.epochs.pass().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("a reorg deeper than chain.confirmations"),
        "{e}"
    );
    assert_eq!(e.code(), "chain_unavailable", "{e:?}");
    // ... and keeps saying it: nothing is guessed.
    w.anvil.mine(3).await;
    assert!(w.chain.epochs.pass().await.is_err());
    w.finish().await;
}

/// A deposit that a reorg removes before its confirmations is never credited; re-reading a
/// range credits nothing twice.
async fn deposits_need_confirmations_and_survive_reorgs(b: Backend) {
    let w = World::start(b, |cfg| cfg.chain.confirmations = 3).await;
    let vault = PaymentVault::new(w.chain.deployment().vault.0, w.wallet(&w.client));
    let r = mined(vault.deposit().value(U256::from(ETH))).await;
    assert!(r.status());
    // Mined but not confirmed: not credited.
    w.chain.vault.pass().await.unwrap();
    assert_eq!(w.client_api.balance().await.unwrap().balance_wei, "0");
    // A reorg replaces the deposit's block (and the one after it) with blocks that do not
    // hold it (anvil_reorg with no replacement transactions).
    w.anvil.mine(1).await;
    let (head_before, _) = chain_time(&w.anvil).await;
    let block_before = w.anvil.block_hash(r.block_number.unwrap()).await;
    w.anvil.reorg(2).await;
    let (head_after, _) = chain_time(&w.anvil).await;
    assert_eq!(head_after, head_before, "same height");
    let block_after = w.anvil.block_hash(r.block_number.unwrap()).await;
    assert_ne!(
        block_after, block_before,
        "the deposit's block was replaced"
    );
    assert!(
        w.anvil.tx_receipt(r.transaction_hash).await.is_none(),
        "the deposit is gone"
    );
    w.anvil.mine(5).await;
    w.chain.vault.pass().await.unwrap();
    assert_eq!(w.client_api.balance().await.unwrap().balance_wei, "0");
    // A deposit that stays is credited once it has 3 confirmations, exactly once. (A fresh
    // wallet provider: the old one cached the nonce of the transaction the reorg dropped.)
    let vault = PaymentVault::new(w.chain.deployment().vault.0, w.wallet(&w.client));
    let r = mined(vault.deposit().value(U256::from(2 * ETH))).await;
    assert!(r.status());
    w.anvil.mine(1).await;
    w.chain.vault.pass().await.unwrap();
    assert_eq!(
        w.client_api.balance().await.unwrap().balance_wei,
        "0",
        "2 of 3 confirmations"
    );
    w.anvil.mine(1).await;
    w.chain.vault.pass().await.unwrap();
    assert_eq!(
        w.client_api.balance().await.unwrap().balance_wei,
        (2 * ETH).to_string()
    );
    // Re-reading from the start applies nothing twice.
    w.srv
        .oracle
        .db
        .execute_unprepared("DELETE FROM chain_cursors")
        .await
        .unwrap();
    let report = w.chain.vault.pass().await.unwrap();
    assert_eq!(report.applied, 0);
    assert!(report.skipped >= 1);
    assert_eq!(
        w.client_api.balance().await.unwrap().balance_wei,
        (2 * ETH).to_string()
    );
    // Deposited but no spending cap signed: nothing is served, and the answer says why.
    let model = w
        .srv
        .register(&w.publisher_api, "tiny_mlp.onnx", "tiny-mlp", PRICE)
        .await;
    w.publisher_api
        .tokenize(&model.id, "Tiny MLP", "TMLP", "1000", 0)
        .await
        .unwrap();
    let mut state = String::new();
    for _ in 0..20 {
        w.chain.ctx.txm.pump().await.unwrap();
        w.chain.tokens.reconcile().await.unwrap();
        state = w.publisher_api.token(&model.id).await.unwrap().state;
        if state == "tokenized" {
            break;
        }
        w.anvil.mine(1).await;
    }
    assert_eq!(state, "tokenized", "after 3 confirmations");
    let b = w.client_api.balance().await.unwrap();
    assert_eq!((b.cap_wei.as_str(), b.available_wei.as_str()), ("0", "0"));
    let (status, body) = w.call_tiny().await;
    assert_eq!(status.as_u16(), 402, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("spending cap"),
        "{body}"
    );
    assert_eq!(w.srv.row_count("receipts").await, 0);
    w.finish().await;
}

/// The RPC goes away mid-cycle (a proxy in front of anvil stops answering): inference is still
/// served and metered, every chain job fails with `chain_unavailable` naming the RPC and loses
/// nothing (the epoch still closes; its attestation waits as a pending intent), and when the
/// RPC is back the same jobs complete the cycle.
async fn rpc_outage_mid_cycle(b: Backend) {
    let (w, proxy) = World::behind_proxy(b).await;
    let (model_id, _token) = w.tokenized_model().await;
    w.fund_client(ETH, ETH).await;
    let mut receipts = w.calls(5).await;

    proxy.down();
    // Metering needs no chain: calls go on being served, charged and receipted.
    receipts.extend(w.calls(5).await);
    let b = w.client_api.balance().await.unwrap();
    assert_eq!(b.spent_wei, (10 * PRICE).to_string());
    let host = proxy.url.trim_start_matches("http://").to_owned();
    for (job, e) in [
        ("transactions", w.chain.ctx.txm.pump().await.unwrap_err()),
        ("index", w.chain.vault.pass().await.unwrap_err()),
    ] {
        assert_eq!(e.code(), "chain_unavailable", "{job}: {e}");
        assert!(e.to_string().contains(&host), "{job} names the RPC: {e}");
    }
    // The epochs close without the chain; their attestations wait for it (the attestation's
    // value includes the cover of any shortfall, read from the oracle when it is queued).
    let mut epochs: Vec<u64> = receipts.iter().map(|r| r.epoch).collect();
    epochs.dedup();
    w.until_closable(*epochs.iter().max().unwrap());
    let e = w.chain.epochs.pass().await.unwrap_err();
    assert_eq!(e.code(), "chain_unavailable", "{e}");
    for ep in &epochs {
        let v = w.client_api.epoch(*ep).await.unwrap();
        assert_eq!(v.state, "closed", "epoch {ep} closed, not yet attested");
    }
    let attests = w.intents(|i| i.kind == "attest").await.len();
    assert_eq!(
        attests, 0,
        "nothing is queued without the chain's cover figure"
    );
    // /readyz answers: the database is what readiness is about.
    assert_eq!(w.srv.client().ready().await.unwrap().status, "ready");

    proxy.up();
    w.until_epochs(&receipts, "attested", 30).await;
    w.anvil.time_travel(WINDOW + 1).await;
    w.until_epochs(&receipts, "finalized", 30).await;
    let rev = w.client_api.revenue(&model_id).await.unwrap();
    let fee: u128 = epochs
        .iter()
        .map(|e| {
            receipts.iter().filter(|r| r.epoch == *e).count() as u128 * PRICE * FEE_BPS / 10_000
        })
        .sum();
    assert_eq!(rev.total_paid_wei, (10 * PRICE - fee).to_string());
    assert_eq!(w.vault().feesOwed().call().await.unwrap(), U256::from(fee));
    assert_eq!(w.client_in_vault().await, U256::from(ETH - 10 * PRICE));
    w.finish().await;
}

use sea_orm::ConnectionTrait;

both_backends!(
    full_cycle,
    wrong_attestation_loses_its_bond,
    deposits_need_confirmations_and_survive_reorgs,
    challenges_need_confirmations_and_survive_reorgs,
    rpc_outage_mid_cycle,
    answerable_challenges_are_answered,
    chain_endpoints_reject_bad_input
);

use sea_orm_migration::{prelude::*, schema::*};

use crate::tables::*;

migration!(creates ClusterLeases);

table! {
    /// `cluster_leases`: leases among the replicas sharing a database (issue 17; docs/DEPLOY.md):
    /// one row per lease name (`chain`: who runs the chain jobs). `holder` is the replica that
    /// holds it until `expires_at_ms` (database time, Unix ms); `token` is the fencing token, raised
    /// each time the lease changes hands or lapses, and checked by every write that must come from
    /// the current holder.
    ClusterLeases {
        Name: text_key(64),
        Holder: string_len(200),
        Token: big_integer,
        ExpiresAtMs: ms,
        AcquiredAtMs: ms,
    }
}

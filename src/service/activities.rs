//! Low-stock activities: what runs when a SKU's company-wide available quantity falls to its
//! product's low-stock threshold.
//!
//! An activity runs inside the transaction of the change that caused the crossing, in a
//! savepoint of its own, exactly once per LOW_STOCK event: when the change rolls back, so does
//! the activity, and when the activity fails, only its own writes are undone, the failure is
//! logged and recorded on the event, and the stock change commits. An activity that talks to
//! another system should therefore only record the work in the database (an outbox row) and
//! leave the sending to a worker, so it never holds the transaction open on the network.
//!
//! Users of the library add their own activities by implementing [`LowStockActivity`] and
//! registering them with [`ActivityRegistry::register`] before building the app.

use std::{collections::BTreeMap, fmt, sync::Arc};

use entity::sku;
use futures_util::future::BoxFuture;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, sea_query::Expr};

use super::estimates::{Titles, localized};

/// The LOW_STOCK crossing an activity runs for.
#[derive(Clone, Debug)]
pub struct LowStockCrossing {
    pub sku_id: i64,
    pub sku_code: String,
    pub product_id: i64,
    /// Company-wide available quantity before the change; `None` when never judged before.
    pub available_before: Option<i64>,
    /// Company-wide available quantity after the change.
    pub available_after: i64,
    /// The product's `minStockQuantity`.
    pub threshold: i64,
}

/// Something to do when a SKU runs low, chosen per product by `lowStockActivity`.
pub trait LowStockActivity: Send + Sync + 'static {
    /// The key stored in a product's inventory settings, such as `unpublish-sku`.
    fn key(&self) -> &str;

    /// Labels by locale (`en_US`, `de`, …), shown in pickers.
    fn labels(&self) -> Titles;

    /// Ordering in pickers: lower first.
    fn priority(&self) -> i32;

    /// Does the work inside the change's transaction. An error is recorded on the event and
    /// undoes only this activity's writes.
    fn run<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        crossing: &'a LowStockCrossing,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// The activities a server knows, by key.
#[derive(Clone)]
pub struct ActivityRegistry {
    by_key: BTreeMap<String, Arc<dyn LowStockActivity>>,
}

impl fmt::Debug for ActivityRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.by_key.keys()).finish()
    }
}

impl Default for ActivityRegistry {
    fn default() -> Self {
        let mut registry = ActivityRegistry::empty();
        registry.register(Arc::new(Notify));
        registry.register(Arc::new(UnpublishSku));
        registry
    }
}

impl ActivityRegistry {
    /// A registry without the built-in activities.
    pub fn empty() -> Self {
        ActivityRegistry { by_key: BTreeMap::new() }
    }

    /// Adds an activity, replacing one registered under the same key.
    pub fn register(&mut self, activity: Arc<dyn LowStockActivity>) -> &mut Self {
        self.by_key.insert(activity.key().to_owned(), activity);
        self
    }

    /// The activity registered under `key`.
    pub fn get(&self, key: &str) -> Option<&Arc<dyn LowStockActivity>> {
        self.by_key.get(key)
    }

    /// Every registered key, sorted, for error messages.
    pub fn keys(&self) -> Vec<&str> {
        self.by_key.keys().map(String::as_str).collect()
    }

    /// Every activity by priority, then key.
    pub fn by_priority(&self) -> Vec<&Arc<dyn LowStockActivity>> {
        let mut list: Vec<_> = self.by_key.values().collect();
        list.sort_by(|a, b| a.priority().cmp(&b.priority()).then_with(|| a.key().cmp(b.key())));
        list
    }
}

/// The label of `activity` in `locale`, with the same fallbacks as estimate titles.
pub fn label(activity: &dyn LowStockActivity, locale: Option<&str>) -> String {
    let labels = activity.labels();
    localized(&labels, locale).unwrap_or(activity.key()).to_owned()
}

fn titles(pairs: &[(&str, &str)]) -> Titles {
    pairs.iter().map(|(locale, text)| ((*locale).to_owned(), (*text).to_owned())).collect()
}

/// `notify`: the LOW_STOCK event itself is the notification; nothing else changes.
struct Notify;

impl LowStockActivity for Notify {
    fn key(&self) -> &str {
        "notify"
    }

    fn labels(&self) -> Titles {
        titles(&[("en_US", "Notify subscribers"), ("de_DE", "Abonnenten benachrichtigen")])
    }

    fn priority(&self) -> i32 {
        20
    }

    fn run<'a>(&'a self, _: &'a DatabaseTransaction, _: &'a LowStockCrossing) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// `unpublish-sku`: Liferay's default "set as unpublished". The SKU stops being published and
/// is not republished when stock comes back.
struct UnpublishSku;

impl LowStockActivity for UnpublishSku {
    fn key(&self) -> &str {
        "unpublish-sku"
    }

    fn labels(&self) -> Titles {
        titles(&[("en_US", "Set as unpublished"), ("de_DE", "Als unveröffentlicht markieren")])
    }

    fn priority(&self) -> i32 {
        10
    }

    fn run<'a>(&'a self, txn: &'a DatabaseTransaction, crossing: &'a LowStockCrossing) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            sku::Entity::update_many()
                .col_expr(sku::Column::Published, Expr::value(false))
                .filter(sku::Column::Id.eq(crossing.sku_id))
                .exec(txn)
                .await?;
            Ok(())
        })
    }
}

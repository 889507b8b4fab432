//! Access rules: which role may use which operation, in one place.
//!
//! - [`ROOT_FIELDS`] lists every query, mutation and subscription with the roles that may use
//!   it. [`authorize`] checks each operation's root fields against it before
//!   anything runs, so a rejected operation changes and reveals nothing. A root field missing
//!   from the table is rejected for every role but admin; a test keeps the table and the schema
//!   in step.
//! - [`Restricted`] guards the fields of shared types that not every role may read, such as
//!   stock quantities, wherever the type appears.
//! - [`may_load_node`] decides which entity types `node` and `nodes` return to each role.
//! - Resolvers that take a channel call [`check_channel`] or [`visible_channels`], so a token
//!   limited to channels sees those channels only. They reject with `FORBIDDEN` errors that
//!   name the rule, never the data.
//!
//! The roles: `admin` may do everything. `inventory` may do everything but set up the sales
//! structure (create, change and delete channels; create and delete warehouses; link and
//! unlink them). `storefront` reads the catalog and the availability of its channels, never a
//! stock quantity, the ledger or bookings. `alerts` reads the inventory events of its channels.
//! Introspection (`__schema`, `__type`, `__typename`) is open to every authenticated caller.

use std::any::TypeId;

use async_graphql::{
    Context, Data, Guard, Request, ServerError, ServerResult,
    parser::types::{DocumentOperations, ExecutableDocument, OperationType, Selection},
};

use crate::{
    auth::{Caller, ChannelScope, Role},
    error::{Error, ErrorCode},
    ids::NodeType,
};

use OperationType::{Mutation, Query, Subscription};
use Role::{Admin, Alerts, Inventory, Storefront};

/// The channel and warehouse set-up.
const ADMIN: &[Role] = &[Admin];
/// Stock, bookings, replenishments, the ledger, catalog writes.
const STAFF: &[Role] = &[Admin, Inventory];
/// The catalog and what a storefront shows.
const CATALOG: &[Role] = &[Admin, Inventory, Storefront];
/// The inventory events.
const EVENTS: &[Role] = &[Admin, Inventory, Alerts];
/// Reads that every role needs, limited to the caller's channels.
const ANYONE: &[Role] = &[Admin, Inventory, Storefront, Alerts];

/// Every root field and the roles that may use it.
pub const ROOT_FIELDS: &[(OperationType, &str, &[Role])] = &[
    // Entities by id: each role gets only the types `may_load_node` allows, and channels of
    // its own.
    (Query, "node", ANYONE),
    (Query, "nodes", ANYONE),
    // Channels: a token limited to channels sees only those.
    (Query, "channels", ANYONE),
    (Query, "channel", ANYONE),
    (Query, "warehouses", STAFF),
    (Query, "warehouse", STAFF),
    // The catalog. `skus(filter: {lowStock})` is for staff only: it reveals stock levels.
    (Query, "products", CATALOG),
    (Query, "product", CATALOG),
    (Query, "sku", CATALOG),
    (Query, "skus", CATALOG),
    (Query, "availabilityEstimates", CATALOG),
    // What a storefront shows, for the caller's channels only.
    (Query, "availability", CATALOG),
    // Stock, orders and their history.
    (Query, "stock", STAFF),
    (Query, "inventoryLedger", STAFF),
    (Query, "bookings", STAFF),
    (Query, "booking", STAFF),
    (Query, "replenishments", STAFF),
    // Events, for the caller's channels only.
    (Query, "inventoryEvents", EVENTS),
    (Query, "lowStockActivities", EVENTS),
    // The sales structure.
    (Mutation, "createChannel", ADMIN),
    (Mutation, "updateChannel", ADMIN),
    (Mutation, "deleteChannel", ADMIN),
    (Mutation, "createWarehouse", ADMIN),
    (Mutation, "deleteWarehouse", ADMIN),
    (Mutation, "linkWarehouseToChannel", ADMIN),
    (Mutation, "unlinkWarehouseFromChannel", ADMIN),
    // Running the warehouses.
    (Mutation, "updateWarehouse", STAFF),
    (Mutation, "setWarehouseActive", STAFF),
    // The catalog.
    (Mutation, "createProduct", STAFF),
    (Mutation, "updateProduct", STAFF),
    (Mutation, "createSku", STAFF),
    (Mutation, "updateSku", STAFF),
    (Mutation, "setProductInventoryConfiguration", STAFF),
    (Mutation, "createAvailabilityEstimate", STAFF),
    (Mutation, "updateAvailabilityEstimate", STAFF),
    (Mutation, "deleteAvailabilityEstimate", STAFF),
    // Stock.
    (Mutation, "setInventory", STAFF),
    (Mutation, "adjustInventory", STAFF),
    (Mutation, "bulkSetInventory", STAFF),
    (Mutation, "transferInventory", STAFF),
    (Mutation, "createReplenishment", STAFF),
    (Mutation, "updateReplenishment", STAFF),
    (Mutation, "receiveReplenishment", STAFF),
    (Mutation, "deleteReplenishment", STAFF),
    // Orders.
    (Mutation, "bookInventory", STAFF),
    (Mutation, "releaseBooking", STAFF),
    (Mutation, "createShipment", STAFF),
    (Mutation, "cancelShipment", STAFF),
    // Live events, for the caller's channels only.
    (Subscription, "lowStockEvents", EVENTS),
    (Subscription, "stockChanged", EVENTS),
];

/// The roles that may use a root field, `None` for a field the table does not list.
pub fn roles_of(operation: OperationType, field: &str) -> Option<&'static [Role]> {
    ROOT_FIELDS.iter().find(|(kind, name, _)| *kind == operation && *name == field).map(|(_, _, roles)| *roles)
}

/// Tells whether `node` and `nodes` return entities of this type to the role. Other types are
/// rejected whether or not the entity exists.
pub fn may_load_node(role: Role, node_type: NodeType) -> bool {
    match role {
        Admin | Inventory => true,
        Storefront => matches!(node_type, NodeType::Channel | NodeType::Product | NodeType::Sku | NodeType::AvailabilityEstimate),
        Alerts => node_type == NodeType::Channel,
    }
}

/// Fields of shared types that only some roles may read, wherever the type appears. Used as
/// `#[graphql(guard = "Restricted::StockQuantities")]`.
#[derive(Clone, Copy, Debug)]
pub enum Restricted {
    /// On hand, safety stock, booked, available, incoming and thresholds of stock types, and
    /// the fields that lead to them (`Sku.stock`, `Warehouse.items`).
    StockQuantities,
    /// The links between warehouses and channels.
    WarehouseLinks,
    /// `Sku.availability`, which also checks the channel.
    Availability,
}

impl Restricted {
    fn roles(self) -> &'static [Role] {
        match self {
            Restricted::StockQuantities | Restricted::WarehouseLinks => STAFF,
            Restricted::Availability => CATALOG,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Restricted::StockQuantities => "stock quantities",
            Restricted::WarehouseLinks => "which warehouses serve which channels",
            Restricted::Availability => "availability",
        }
    }
}

impl Guard for Restricted {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let role = caller(ctx)?.role();
        if self.roles().contains(&role) {
            return Ok(());
        }
        Err(forbidden(format!("the {} role may not read {}", role.as_str(), self.what())).into())
    }
}

/// The caller of the running request.
///
/// # Errors
/// `UNAUTHENTICATED` when the request carries no caller, which the transports always attach.
pub fn caller<'a>(ctx: &Context<'a>) -> Result<&'a Caller, Error> {
    ctx.data_opt::<Caller>().ok_or_else(no_caller)
}

/// The channels the caller may see.
pub fn visible_channels<'a>(ctx: &Context<'a>) -> Result<&'a ChannelScope, Error> {
    Ok(caller(ctx)?.channels())
}

/// Rejects a channel outside the caller's channels before anything is read about it, so the
/// error is the same whether or not the channel exists.
///
/// # Errors
/// `FORBIDDEN`, with `field` naming the argument.
pub fn check_channel(ctx: &Context<'_>, field: &str, channel_id: i64) -> Result<(), Error> {
    if visible_channels(ctx)?.contains(channel_id) {
        return Ok(());
    }
    Err(forbidden("this API token is limited to other channels").with_field(field))
}

/// Rejects a node type the caller's role may not load.
///
/// # Errors
/// `FORBIDDEN`, with `field` naming the argument.
pub fn check_node_type(ctx: &Context<'_>, field: &str, node_type: NodeType) -> Result<(), Error> {
    let role = caller(ctx)?.role();
    if may_load_node(role, node_type) {
        return Ok(());
    }
    Err(forbidden(format!("the {} role may not load {} entities", role.as_str(), node_type.name())).with_field(field))
}

/// Builds a `FORBIDDEN` error.
pub fn forbidden(message: impl Into<String>) -> Error {
    Error::rejected(ErrorCode::Forbidden, message)
}

fn no_caller() -> Error {
    Error::rejected(ErrorCode::Unauthenticated, "the request carries no API token")
}

// ---------------------------------------------------------------- the operation check

/// Checks the operation's root fields against [`ROOT_FIELDS`] for the caller the transport
/// attached (HTTP to the request, a WebSocket to its connection's `session` data), and that the
/// caller's token is still valid. The executor (`graphql::executor`) calls it before running
/// any resolver, after the persisted query cache gave the document.
///
/// # Errors
/// `UNAUTHENTICATED` without a caller or with a revoked token, `FORBIDDEN` for a root field
/// the caller's role may not use, or the document's parse error.
pub async fn authorize(request: &mut Request, session: Option<&Data>) -> ServerResult<()> {
    let caller = [Some(&request.data), session]
        .into_iter()
        .flatten()
        .find_map(|data| data.get(&TypeId::of::<Caller>()).and_then(|data| data.downcast_ref::<Caller>()))
        .cloned()
        .ok_or_else(|| server_error(no_caller()))?;
    caller.ensure_current().await.map_err(server_error)?;

    let operation_name = request.operation_name.clone();
    let document = request.parsed_query()?;
    check_operation(caller.role(), document, operation_name.as_deref()).map_err(server_error)
}

/// Checks the root fields of the operation the request selects. A request that selects no
/// operation is left to the executor, which reports that.
fn check_operation(role: Role, document: &ExecutableDocument, operation_name: Option<&str>) -> Result<(), Error> {
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), None) => operation,
        (DocumentOperations::Multiple(operations), Some(name)) => match operations.get(name) {
            Some(operation) => operation,
            None => return Ok(()),
        },
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().expect("BUG: a map of one operation has one value")
        }
        _ => return Ok(()),
    };
    let kind = operation.node.ty;

    // Fields of fragments count as the root fields they stand for; each fragment is visited
    // once, which also ends fragment cycles (validation reports those later).
    let mut pending = vec![&operation.node.selection_set.node];
    let mut visited = std::collections::HashSet::new();
    while let Some(selection_set) = pending.pop() {
        for selection in &selection_set.items {
            match &selection.node {
                Selection::Field(field) => check_root_field(role, kind, field.node.name.node.as_str())?,
                Selection::InlineFragment(fragment) => pending.push(&fragment.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if visited.insert(name.clone())
                        && let Some(fragment) = document.fragments.get(name)
                    {
                        pending.push(&fragment.node.selection_set.node);
                    }
                }
            }
        }
    }
    Ok(())
}

fn check_root_field(role: Role, kind: OperationType, field: &str) -> Result<(), Error> {
    if field.starts_with("__") {
        return Ok(());
    }
    let allowed = match roles_of(kind, field) {
        Some(roles) => roles.contains(&role),
        // An admin may do everything, and anyone else is rejected. A field the schema does not
        // have at all is then reported by validation.
        None => role == Admin,
    };
    if allowed {
        return Ok(());
    }
    let kind = match kind {
        Query => "query",
        Mutation => "mutation",
        Subscription => "subscription",
    };
    Err(forbidden(format!("the {} role may not use the {kind} `{field}`", role.as_str())))
}

fn server_error(err: Error) -> ServerError {
    async_graphql::Error::from(err).into_server_error(async_graphql::Pos::default())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every root field of the schema, from introspection.
    async fn schema_root_fields() -> BTreeSet<(String, String)> {
        let query = "{ __schema {
            queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }";
        let response = super::super::bare_schema().execute(query).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let json = response.data.into_json().unwrap();
        let mut found = BTreeSet::new();
        for (kind, key) in [("query", "queryType"), ("mutation", "mutationType"), ("subscription", "subscriptionType")] {
            for field in json["__schema"][key]["fields"].as_array().unwrap() {
                found.insert((kind.to_owned(), field["name"].as_str().unwrap().to_owned()));
            }
        }
        found
    }

    #[tokio::test]
    async fn table_lists_every_root_field_once() {
        let table: Vec<(String, String)> = ROOT_FIELDS
            .iter()
            .map(|(kind, name, _)| {
                let kind = match kind {
                    Query => "query",
                    Mutation => "mutation",
                    Subscription => "subscription",
                };
                (kind.to_owned(), (*name).to_owned())
            })
            .collect();
        let unique: BTreeSet<(String, String)> = table.iter().cloned().collect();
        assert_eq!(unique.len(), table.len(), "a root field is listed twice");
        assert_eq!(unique, schema_root_fields().await, "ROOT_FIELDS and the schema differ: add or remove rows");
    }

    #[test]
    fn fragments_and_aliases_are_checked() {
        let document = async_graphql::parser::parse_query(
            "query { a: channels { totalCount } ...F ... on QueryRoot { stock(skus: []) { onHand } } } fragment F on QueryRoot { products { totalCount } }",
        )
        .unwrap();
        let err = check_operation(Storefront, &document, None).unwrap_err();
        assert!(err.message().contains("`stock`"), "{}", err.message());
        assert!(check_operation(Inventory, &document, None).is_ok());
    }

    #[test]
    fn fragment_cycles_end() {
        let document = async_graphql::parser::parse_query(
            "query { ...A } fragment A on QueryRoot { ...B } fragment B on QueryRoot { ...A channels { totalCount } }",
        )
        .unwrap();
        assert!(check_operation(Alerts, &document, None).is_ok());
    }

    #[test]
    fn unlisted_fields_are_for_admins_only() {
        assert!(check_root_field(Admin, Query, "somethingNew").is_ok());
        assert!(check_root_field(Inventory, Query, "somethingNew").is_err());
        assert!(check_root_field(Storefront, Query, "__schema").is_ok());
    }

    #[test]
    fn storefront_loads_catalog_nodes_only() {
        assert!(may_load_node(Storefront, NodeType::Sku));
        assert!(!may_load_node(Storefront, NodeType::WarehouseItem));
        assert!(!may_load_node(Storefront, NodeType::Booking));
        assert!(!may_load_node(Alerts, NodeType::Product));
    }
}

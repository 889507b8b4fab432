//! Opaque global ids for the Relay `Node` interface.
//!
//! An id is the URL-safe base64 form of `Type:number`, for example `Warehouse:12`. Clients must
//! treat ids as opaque strings; the server decodes them and checks that the type matches the
//! field that received the id.

use async_graphql::ID;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{Error, Result};

/// The kinds of entity that have a global id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeType {
    Channel,
    Warehouse,
    Product,
    Sku,
    WarehouseItem,
    InventoryLedgerEntry,
    Booking,
    Shipment,
    AvailabilityEstimate,
    ReplenishmentItem,
}

impl NodeType {
    const ALL: [NodeType; 10] = [
        NodeType::Channel,
        NodeType::Warehouse,
        NodeType::Product,
        NodeType::Sku,
        NodeType::WarehouseItem,
        NodeType::InventoryLedgerEntry,
        NodeType::Booking,
        NodeType::Shipment,
        NodeType::AvailabilityEstimate,
        NodeType::ReplenishmentItem,
    ];

    /// The GraphQL type name, which is also the prefix inside the id.
    pub fn name(self) -> &'static str {
        match self {
            NodeType::Channel => "Channel",
            NodeType::Warehouse => "Warehouse",
            NodeType::Product => "Product",
            NodeType::Sku => "Sku",
            NodeType::WarehouseItem => "WarehouseItem",
            NodeType::InventoryLedgerEntry => "InventoryLedgerEntry",
            NodeType::Booking => "Booking",
            NodeType::Shipment => "Shipment",
            NodeType::AvailabilityEstimate => "AvailabilityEstimate",
            NodeType::ReplenishmentItem => "ReplenishmentItem",
        }
    }
}

/// Encodes the global id of an entity.
pub fn encode(node_type: NodeType, id: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", node_type.name())))
}

/// Decodes any global id into its type and database id.
pub fn decode_any(field: &str, id: &str) -> Result<(NodeType, i64)> {
    let malformed = || {
        Error::invalid(
            field,
            format!("malformed id {id:?}: use an `id` value returned by this server"),
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(id.trim()).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (type_name, number) = text.split_once(':').ok_or_else(malformed)?;
    let node_type =
        NodeType::ALL.into_iter().find(|t| t.name() == type_name).ok_or_else(malformed)?;
    let number: i64 = number.parse().map_err(|_| malformed())?;
    if number <= 0 {
        return Err(malformed());
    }
    Ok((node_type, number))
}

/// Decodes a global id that must be of the given type.
pub fn decode(field: &str, expected: NodeType, id: &ID) -> Result<i64> {
    let (node_type, number) = decode_any(field, id)?;
    if node_type != expected {
        return Err(Error::invalid(
            field,
            format!(
                "id {:?} is a {} id, but a {} id is expected here",
                id.as_str(),
                node_type.name(),
                expected.name()
            ),
        ));
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let id = encode(NodeType::Warehouse, 42);
        assert_eq!(decode("id", NodeType::Warehouse, &id).unwrap(), 42);
    }

    #[test]
    fn wrong_type_is_invalid() {
        let id = encode(NodeType::Channel, 1);
        let err = decode("warehouseId", NodeType::Warehouse, &id).unwrap_err();
        assert!(err.message().contains("Channel id"), "{}", err.message());
    }

    #[test]
    fn garbage_is_invalid() {
        for bad in ["", "!!!", "V2FyZWhvdXNl", "V2FyZWhvdXNlOi0x", "Zm9vOjE"] {
            assert!(decode_any("id", bad).is_err(), "{bad:?} was accepted");
        }
    }
}

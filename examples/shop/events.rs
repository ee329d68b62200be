//! What the store's services tell each other through the broker.

use super::books::{Order, OrderId};

/// One event of the checkout saga. Each service publishes on its own topic (see
/// [`super::TOPICS`]); subscribers act on the events they care about and pass over the rest.
#[derive(Clone, Debug)]
pub enum StoreEvent {
    /// Checkout took an order (event-driven: inventory reacts).
    OrderPlaced(Order),
    /// Checkout was paid for an order (hybrid: shipping reacts).
    OrderPaid(Order),
    /// Inventory reserved the order's items.
    StockReserved(Order),
    /// Inventory could not reserve them: why.
    StockRefused(OrderId, String),
    /// Inventory released a reservation (a compensation).
    StockReleased(OrderId),
    /// Payment charged the order.
    PaymentDone(Order),
    /// Payment declined it: why.
    PaymentDeclined(OrderId, String),
    /// Payment refunded the order (a compensation).
    Refunded(OrderId),
    /// Shipping sent the order.
    Shipped(OrderId),
    /// Shipping could not send it: why.
    ShippingFailed(OrderId, String),
}

impl StoreEvent {
    /// The order it is about.
    pub fn order(&self) -> OrderId {
        match self {
            StoreEvent::OrderPlaced(order)
            | StoreEvent::OrderPaid(order)
            | StoreEvent::StockReserved(order)
            | StoreEvent::PaymentDone(order) => order.id,
            StoreEvent::StockRefused(id, _)
            | StoreEvent::StockReleased(id)
            | StoreEvent::PaymentDeclined(id, _)
            | StoreEvent::Refunded(id)
            | StoreEvent::Shipped(id)
            | StoreEvent::ShippingFailed(id, _) => *id,
        }
    }

    /// Its kind, as the books name it.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreEvent::OrderPlaced(_) => "order placed",
            StoreEvent::OrderPaid(_) => "order paid",
            StoreEvent::StockReserved(_) => "stock reserved",
            StoreEvent::StockRefused(..) => "stock refused",
            StoreEvent::StockReleased(_) => "stock released",
            StoreEvent::PaymentDone(_) => "payment done",
            StoreEvent::PaymentDeclined(..) => "payment declined",
            StoreEvent::Refunded(_) => "refunded",
            StoreEvent::Shipped(_) => "shipped",
            StoreEvent::ShippingFailed(..) => "shipping failed",
        }
    }
}

//! The services whose state is the business: checkout (the orders, and the saga), inventory
//! (stock), payment (the ledger) and shipping. The services that only take time -- cart,
//! catalog, currency, email, and the pages' recommendation and ad -- are [`Script`]s, as in
//! the scenario file.
//!
//! The business logic of each service is one set of operations on the [`Books`], shared by
//! the three ways of wiring the checkout: a service answers the same operation whether it
//! comes as a call or as an event.

use std::time::Duration;

use microsim::rand::RngExt;
use microsim::{
    CallError, Context, Distribution, Script, Service, ServiceError, ServiceHandle, TopicHandle,
};

use super::Variant;
use super::books::{Charge, Order, OrderId, OrderState, PRODUCTS, SharedBooks, Shipment, dollars};
use super::events::StoreEvent;

/// Whether a service applies each operation once per order, however many copies of it
/// arrive -- retried calls, redelivered events -- using the order's number as the
/// idempotency key. The naive store does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dedup {
    /// Once per order.
    ByOrder,
    /// Every copy applied.
    None,
}

/// How long a compensation waits before trying again, and how often it tries: a
/// compensation must eventually succeed, so it outlasts any fault of the store's schedule.
const COMPENSATION_BACKOFF: Duration = Duration::from_millis(50);
const COMPENSATION_ATTEMPTS: u32 = 200;

// ---------------------------------------------------------------------------------------
// Inventory

/// Inventory's operations.
#[derive(Clone, Debug)]
pub enum InventoryRequest {
    Reserve(Order),
    Release(OrderId),
    Event(StoreEvent),
}

/// Inventory's answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Reservation {
    Reserved,
    Refused(String),
    Released,
    Ignored,
}

/// Stock per item: reserves an order's items, or refuses it; releases a reservation.
pub struct Inventory {
    pub work: Distribution,
    pub books: SharedBooks,
    pub dedup: Dedup,
    pub variant: Variant,
    /// Where it publishes its outcomes (in the variants with events).
    pub events: Option<TopicHandle<StoreEvent>>,
}

impl Inventory {
    fn reserve(&self, now: Duration, order: &Order) -> Reservation {
        self.books.with(|books| {
            if books.inventory.released.contains(&order.id) {
                books.note(order.id, now, "inventory: refused, the order was released");
                return Reservation::Refused("the order was cancelled".to_string());
            }
            if self.dedup == Dedup::ByOrder && books.inventory.reserved.contains_key(&order.id) {
                return Reservation::Reserved;
            }
            if let Some(&(item, _)) = order
                .lines
                .iter()
                .find(|&&(item, quantity)| books.inventory.stock[item] < i64::from(quantity))
            {
                let reason = format!("{} out of stock", PRODUCTS[item].0);
                // Refused for good: a copy of the order arriving later is refused too.
                books.inventory.released.insert(order.id);
                books.inventory.sold_out_at.entry(item).or_insert(now);
                books.note(order.id, now, format!("inventory: {reason}"));
                return Reservation::Refused(reason);
            }
            for &(item, quantity) in &order.lines {
                books.inventory.stock[item] -= i64::from(quantity);
                let stock = books.inventory.stock[item];
                let low = &mut books.inventory.low_water[item];
                *low = (*low).min(stock);
            }
            books
                .inventory
                .reserved
                .entry(order.id)
                .or_default()
                .extend(order.lines.iter().copied());
            books.note(order.id, now, "inventory: reserved");
            Reservation::Reserved
        })
    }

    fn release(&self, now: Duration, order: OrderId) -> Reservation {
        self.books.with(|books| {
            books.inventory.released.insert(order);
            if let Some(lines) = books.inventory.reserved.remove(&order) {
                for (item, quantity) in lines {
                    books.inventory.stock[item] += i64::from(quantity);
                }
                books.compensations += 1;
                books.note(order, now, "inventory: released");
            }
            Reservation::Released
        })
    }
}

impl Service for Inventory {
    type Request = InventoryRequest;
    type Response = Reservation;
    type State = ();

    fn init_state(&self) {}

    async fn handle(
        &self,
        ctx: &Context<Self>,
        request: InventoryRequest,
    ) -> Result<Reservation, ServiceError> {
        match request {
            InventoryRequest::Reserve(order) => {
                ctx.work(&self.work).await;
                match self.reserve(ctx.now(), &order) {
                    Reservation::Refused(reason) => Err(ServiceError::permanent(reason)),
                    reservation => Ok(reservation),
                }
            }
            InventoryRequest::Release(order) => {
                ctx.work(&self.work).await;
                Ok(self.release(ctx.now(), order))
            }
            InventoryRequest::Event(event) => {
                let outcome = match (&event, self.variant) {
                    (StoreEvent::OrderPlaced(order), Variant::Events) => {
                        ctx.work(&self.work).await;
                        Some(match self.reserve(ctx.now(), order) {
                            Reservation::Reserved => StoreEvent::StockReserved(order.clone()),
                            Reservation::Refused(reason) => {
                                StoreEvent::StockRefused(order.id, reason)
                            }
                            _ => unreachable!("reserve reserves or refuses"),
                        })
                    }
                    (
                        StoreEvent::PaymentDeclined(order, _)
                        | StoreEvent::ShippingFailed(order, _),
                        Variant::Events,
                    ) => {
                        ctx.work(&self.work).await;
                        self.release(ctx.now(), *order);
                        Some(StoreEvent::StockReleased(*order))
                    }
                    _ => None,
                };
                handled(ctx, &self.books, &event, outcome, self.events.as_ref()).await
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Payment

/// Payment's operations.
#[derive(Clone, Debug)]
pub enum PaymentRequest {
    Charge(Order),
    Refund(OrderId),
    Event(StoreEvent),
}

/// Payment's answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Payment {
    Charged,
    Declined(String),
    Refunded,
    Ignored,
}

/// Charges cards through an external processor, which declines some; refunds.
pub struct Payments {
    pub work: Distribution,
    pub decline_rate: f64,
    pub books: SharedBooks,
    pub dedup: Dedup,
    pub variant: Variant,
    /// Where it publishes its outcomes (in the variants with events).
    pub events: Option<TopicHandle<StoreEvent>>,
}

impl Payments {
    fn charge(&self, ctx: &Context<Self>, order: &Order) -> Payment {
        let now = ctx.now();
        let declined = ctx.with_rng(|rng| rng.random_bool(self.decline_rate));
        self.books.with(|books| {
            let ledger = &mut books.ledger;
            if ledger.voided.contains(&order.id) {
                books.note(order.id, now, "payment: refused, the order was refunded");
                return Payment::Declined("the order was cancelled".to_string());
            }
            if self.dedup == Dedup::ByOrder {
                if ledger.declined.contains(&order.id) {
                    return Payment::Declined("card declined".to_string());
                }
                if ledger.charges.contains_key(&order.id) {
                    return Payment::Charged;
                }
            }
            if declined {
                ledger.declined.insert(order.id);
                books.note(order.id, now, "payment: card declined");
                return Payment::Declined("card declined".to_string());
            }
            let cents = order.total_cents();
            ledger.charges.entry(order.id).or_default().push(Charge {
                cents,
                at: now,
                refunded_at: None,
            });
            books.note(
                order.id,
                now,
                format!("payment: charged {}", dollars(cents)),
            );
            Payment::Charged
        })
    }

    fn refund(&self, now: Duration, order: OrderId) -> Payment {
        self.books.with(|books| {
            books.ledger.voided.insert(order);
            let mut refunded = 0;
            for charge in books.ledger.charges.get_mut(&order).into_iter().flatten() {
                if charge.refunded_at.is_none() {
                    charge.refunded_at = Some(now);
                    refunded += charge.cents;
                }
            }
            if refunded > 0 {
                books.compensations += 1;
                books.note(
                    order,
                    now,
                    format!("payment: refunded {}", dollars(refunded)),
                );
            }
            Payment::Refunded
        })
    }
}

impl Service for Payments {
    type Request = PaymentRequest;
    type Response = Payment;
    type State = ();

    fn init_state(&self) {}

    async fn handle(
        &self,
        ctx: &Context<Self>,
        request: PaymentRequest,
    ) -> Result<Payment, ServiceError> {
        match request {
            PaymentRequest::Charge(order) => {
                ctx.work(&self.work).await;
                match self.charge(ctx, &order) {
                    Payment::Declined(reason) => Err(ServiceError::permanent(reason)),
                    payment => Ok(payment),
                }
            }
            PaymentRequest::Refund(order) => {
                ctx.work(&self.work).await;
                Ok(self.refund(ctx.now(), order))
            }
            PaymentRequest::Event(event) => {
                let outcome = match (&event, self.variant) {
                    (StoreEvent::StockReserved(order), Variant::Events) => {
                        ctx.work(&self.work).await;
                        Some(match self.charge(ctx, order) {
                            Payment::Charged => StoreEvent::PaymentDone(order.clone()),
                            Payment::Declined(reason) => {
                                StoreEvent::PaymentDeclined(order.id, reason)
                            }
                            _ => unreachable!("charge charges or declines"),
                        })
                    }
                    (StoreEvent::ShippingFailed(order, _), Variant::Events) => {
                        ctx.work(&self.work).await;
                        self.refund(ctx.now(), *order);
                        Some(StoreEvent::Refunded(*order))
                    }
                    _ => None,
                };
                handled(ctx, &self.books, &event, outcome, self.events.as_ref()).await
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Shipping

/// Shipping's operations.
#[derive(Clone, Debug)]
pub enum ShippingRequest {
    Quote,
    Ship(Order),
    Cancel(OrderId),
    Event(StoreEvent),
}

/// Shipping's answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Delivery {
    Quoted,
    Shipped,
    Failed(String),
    Cancelled,
    AlreadyShipped,
    Ignored,
}

/// Quotes and ships orders; a small share of addresses cannot be delivered to.
pub struct Shipping {
    pub work: Distribution,
    pub undeliverable_rate: f64,
    pub books: SharedBooks,
    pub dedup: Dedup,
    pub variant: Variant,
    /// Where it publishes its outcomes (in the variants with events).
    pub events: Option<TopicHandle<StoreEvent>>,
}

impl Shipping {
    fn ship(&self, ctx: &Context<Self>, order: &Order) -> Delivery {
        let now = ctx.now();
        let undeliverable = ctx.with_rng(|rng| rng.random_bool(self.undeliverable_rate));
        self.books.with(|books| {
            if books.shipping.cancelled.contains(&order.id) {
                books.note(
                    order.id,
                    now,
                    "shipping: refused, the shipment was cancelled",
                );
                return Delivery::Failed("the shipment was cancelled".to_string());
            }
            if self.dedup == Dedup::ByOrder {
                if books.shipping.undeliverable.contains(&order.id) {
                    return Delivery::Failed("address undeliverable".to_string());
                }
                if books.shipping.shipments.iter().any(|s| s.order == order.id) {
                    return Delivery::Shipped;
                }
            }
            if undeliverable {
                books.shipping.undeliverable.insert(order.id);
                books.note(order.id, now, "shipping: address undeliverable");
                return Delivery::Failed("address undeliverable".to_string());
            }
            books.shipping.shipments.push(Shipment {
                order: order.id,
                lines: order.lines.clone(),
                at: now,
            });
            books.note(order.id, now, "shipping: shipped");
            Delivery::Shipped
        })
    }

    fn cancel(&self, now: Duration, order: OrderId) -> Delivery {
        self.books.with(|books| {
            if books.shipping.shipments.iter().any(|s| s.order == order) {
                return Delivery::AlreadyShipped;
            }
            books.shipping.cancelled.insert(order);
            books.note(order, now, "shipping: shipment cancelled");
            Delivery::Cancelled
        })
    }
}

impl Service for Shipping {
    type Request = ShippingRequest;
    type Response = Delivery;
    type State = ();

    fn init_state(&self) {}

    async fn handle(
        &self,
        ctx: &Context<Self>,
        request: ShippingRequest,
    ) -> Result<Delivery, ServiceError> {
        match request {
            ShippingRequest::Quote => {
                ctx.work(&self.work).await;
                Ok(Delivery::Quoted)
            }
            ShippingRequest::Ship(order) => {
                ctx.work(&self.work).await;
                match self.ship(ctx, &order) {
                    Delivery::Failed(reason) => Err(ServiceError::permanent(reason)),
                    delivery => Ok(delivery),
                }
            }
            ShippingRequest::Cancel(order) => {
                ctx.work(&self.work).await;
                Ok(self.cancel(ctx.now(), order))
            }
            ShippingRequest::Event(event) => {
                let outcome = match (&event, self.variant) {
                    (StoreEvent::PaymentDone(order), Variant::Events)
                    | (StoreEvent::OrderPaid(order), Variant::Hybrid | Variant::Naive) => {
                        ctx.work(&self.work).await;
                        Some(match self.ship(ctx, order) {
                            Delivery::Shipped => StoreEvent::Shipped(order.id),
                            Delivery::Failed(reason) => {
                                StoreEvent::ShippingFailed(order.id, reason)
                            }
                            _ => unreachable!("ship ships or fails"),
                        })
                    }
                    _ => None,
                };
                handled(ctx, &self.books, &event, outcome, self.events.as_ref()).await
            }
        }
    }
}

/// The end of an event's handling, shared by the subscribers: the event is marked handled
/// by this service (for the lost-event check), and its outcome, if any, published. A
/// redelivered event publishes its outcome again, so that an outcome lost with a crash is
/// not lost for good; subscribers downstream apply it once.
async fn handled<S: Service, R>(
    ctx: &Context<S>,
    books: &SharedBooks,
    event: &StoreEvent,
    outcome: Option<StoreEvent>,
    topic: Option<&TopicHandle<StoreEvent>>,
) -> Result<R, ServiceError>
where
    R: Ignorable,
{
    if let (Some(outcome), Some(topic)) = (outcome, topic) {
        publish(ctx, books, topic, outcome).await?;
    }
    mark_handled(books, event, ctx.service_name());
    Ok(R::ignored())
}

/// The answer of an event's handler (nobody reads it).
pub trait Ignorable {
    fn ignored() -> Self;
}
impl Ignorable for Reservation {
    fn ignored() -> Self {
        Reservation::Ignored
    }
}
impl Ignorable for Payment {
    fn ignored() -> Self {
        Payment::Ignored
    }
}
impl Ignorable for Delivery {
    fn ignored() -> Self {
        Delivery::Ignored
    }
}
impl Ignorable for () {
    fn ignored() -> Self {}
}

fn mark_handled(books: &SharedBooks, event: &StoreEvent, by: &str) {
    let by = subscriber_name(by);
    books.with(|books| {
        books
            .handled
            .entry((event.order(), event.kind()))
            .or_default()
            .insert(by);
    });
}

/// The `'static` name of one of the store's subscribers.
fn subscriber_name(name: &str) -> &'static str {
    ["checkout", "inventory", "payment", "shipping"]
        .into_iter()
        .find(|known| *known == name)
        .unwrap_or("another service")
}

/// Publishes `event`, recording it in the books for the lost-event check.
async fn publish<S: Service>(
    ctx: &Context<S>,
    books: &SharedBooks,
    topic: &TopicHandle<StoreEvent>,
    event: StoreEvent,
) -> Result<(), ServiceError> {
    let (order, kind) = (event.order(), event.kind());
    ctx.publish_keyed(topic, order, event)
        .await
        .map_err(|error| ServiceError::new(format!("could not publish {kind}: {error}")))?;
    books.with(|books| *books.published.entry((order, kind)).or_default() += 1);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Checkout

/// Checkout's requests: a customer's order, an event of the saga, or a compensation to run
/// after the customer has had an answer.
#[derive(Clone, Debug)]
pub enum CheckoutRequest {
    Place(Order),
    Event(StoreEvent),
    Compensate {
        order: Order,
        reason: String,
        shipment: bool,
    },
    Republish(Order),
}

/// The services checkout talks to.
pub struct Peers {
    pub me: ServiceHandle<Checkout>,
    pub cart: ServiceHandle<Script>,
    pub catalog: ServiceHandle<Script>,
    pub currency: ServiceHandle<Script>,
    pub email: ServiceHandle<Script>,
    pub inventory: ServiceHandle<Inventory>,
    pub payment: ServiceHandle<Payments>,
    pub shipping: ServiceHandle<Shipping>,
    /// Where checkout publishes (in the variants with events).
    pub orders: Option<TopicHandle<StoreEvent>>,
}

/// PlaceOrder, as Online Boutique's checkout service makes it -- get the cart, price each
/// item and convert it, quote the shipping -- then the saga, wired as the variant says.
/// Keeps the orders table.
pub struct Checkout {
    pub work: Distribution,
    pub confirm: Distribution,
    pub books: SharedBooks,
    pub variant: Variant,
    pub peers: Peers,
}

impl Checkout {
    /// The reads of PlaceOrder, before anything changes.
    async fn price(&self, ctx: &Context<Self>, order: &Order) -> Result<(), CallError> {
        let peers = &self.peers;
        ctx.call(&peers.cart, ()).await?;
        for _ in &order.lines {
            ctx.call(&peers.catalog, ()).await?;
            ctx.call(&peers.currency, ()).await?;
        }
        ctx.call(&peers.shipping, ShippingRequest::Quote).await?;
        ctx.call(&peers.currency, ()).await?;
        Ok(())
    }

    fn placed(&self, now: Duration, order: &Order) {
        self.books.with(|books| {
            books.orders.insert(
                order.id,
                super::books::OrderRecord {
                    order: order.clone(),
                    state: OrderState::Placed,
                    placed_at: now,
                    ended_at: None,
                    confirmed: Default::default(),
                    needs: None,
                },
            );
            let items: u32 = order.lines.iter().map(|line| line.1).sum();
            books.note(
                order.id,
                now,
                format!(
                    "checkout: placed, {items} items, {}",
                    dollars(order.total_cents())
                ),
            );
        });
    }

    fn end(&self, now: Duration, order: OrderId, state: OrderState) {
        self.books.with(|books| {
            let Some(record) = books.orders.get_mut(&order) else {
                return;
            };
            if record.state != OrderState::Placed {
                return;
            }
            let what = match &state {
                OrderState::Completed => "checkout: completed".to_string(),
                OrderState::Cancelled(reason) => format!("checkout: cancelled ({reason})"),
                OrderState::Placed => unreachable!("an end is terminal"),
            };
            record.state = state;
            record.ended_at = Some(now);
            books.note(order, now, what);
        });
    }

    /// Ships nothing more and confirms by email: the order is done.
    async fn complete(&self, ctx: &Context<Self>, order: OrderId) {
        ctx.work(&self.confirm).await;
        // The confirmation mail: nobody waits for it.
        let _ = ctx.send(&self.peers.email, ());
        self.end(ctx.now(), order, OrderState::Completed);
    }

    /// Runs the compensations later, on a message to itself: the customer has an answer
    /// already, and compensations have no deadline.
    fn compensate_later(&self, ctx: &Context<Self>, order: &Order, reason: String, shipment: bool) {
        let request = CheckoutRequest::Compensate {
            order: order.clone(),
            reason,
            shipment,
        };
        // Checkout is running (it is handling this request): the message is sent.
        let _ = ctx.send(&self.peers.me, request);
    }

    /// Calls until an answer comes: a compensation must succeed in the end.
    async fn insist<T: Service>(
        &self,
        ctx: &Context<Self>,
        to: &ServiceHandle<T>,
        request: T::Request,
    ) -> Option<T::Response> {
        for _ in 0..COMPENSATION_ATTEMPTS {
            match ctx.call(to, request.clone()).await {
                Ok(response) => return Some(response),
                Err(_) => ctx.work_for(COMPENSATION_BACKOFF).await,
            }
        }
        None
    }

    /// The saga's compensations, in reverse order of the steps: cancel the shipment (if
    /// it left after all, the order is complete), refund, release the stock; then the
    /// order is cancelled.
    async fn compensate(&self, ctx: &Context<Self>, order: &Order, reason: String, shipment: bool) {
        let peers = &self.peers;
        if shipment {
            match self
                .insist(ctx, &peers.shipping, ShippingRequest::Cancel(order.id))
                .await
            {
                Some(Delivery::AlreadyShipped) => {
                    self.complete(ctx, order.id).await;
                    return;
                }
                Some(_) => {}
                None => return,
            }
        }
        if self
            .insist(ctx, &peers.payment, PaymentRequest::Refund(order.id))
            .await
            .is_none()
            || self
                .insist(ctx, &peers.inventory, InventoryRequest::Release(order.id))
                .await
                .is_none()
        {
            return;
        }
        self.end(ctx.now(), order.id, OrderState::Cancelled(reason));
    }

    async fn place(&self, ctx: &Context<Self>, order: Order) -> Result<(), ServiceError> {
        let peers = &self.peers;
        ctx.work(&self.work).await;
        self.price(ctx, &order).await?;
        self.placed(ctx.now(), &order);
        if let (Variant::Events, Some(orders)) = (self.variant, &peers.orders) {
            return match publish(
                ctx,
                &self.books,
                orders,
                StoreEvent::OrderPlaced(order.clone()),
            )
            .await
            {
                Ok(()) => Ok(()),
                Err(_) => {
                    // Taken all the same: the outbox sends it again, later.
                    let _ = ctx.send(&peers.me, CheckoutRequest::Republish(order));
                    Ok(())
                }
            };
        }
        // A failed step is compensated after the answer: whatever the cause -- a refusal,
        // or a call whose outcome is unknown (it timed out) -- the steps before it are undone
        // (a compensation of a step that did not happen changes nothing).
        if let Err(error) = ctx
            .call(&peers.inventory, InventoryRequest::Reserve(order.clone()))
            .await
        {
            self.compensate_later(ctx, &order, error.cause(), false);
            return Err(error.into());
        }
        if let Err(error) = ctx
            .call(&peers.payment, PaymentRequest::Charge(order.clone()))
            .await
        {
            self.compensate_later(ctx, &order, error.cause(), false);
            return Err(error.into());
        }
        if let Some(orders) = &peers.orders {
            // Shipping and the mail follow from the event; the customer is done.
            let paid = StoreEvent::OrderPaid(order.clone());
            return match publish(ctx, &self.books, orders, paid).await {
                Ok(()) => Ok(()),
                Err(error) => {
                    self.compensate_later(ctx, &order, error.to_string(), true);
                    Err(error)
                }
            };
        }
        if let Err(error) = ctx
            .call(&peers.shipping, ShippingRequest::Ship(order.clone()))
            .await
        {
            self.compensate_later(ctx, &order, error.cause(), true);
            return Err(error.into());
        }
        // EmptyCart; the order stands whatever the cart answers.
        let _ = ctx.call(&peers.cart, ()).await;
        self.complete(ctx, order.id).await;
        Ok(())
    }

    /// An event of the saga, to the orders table.
    async fn on_event(&self, ctx: &Context<Self>, event: &StoreEvent) -> Result<(), ServiceError> {
        let now = ctx.now();
        let order = event.order();
        match (event, self.variant) {
            (StoreEvent::Shipped(_), _) => self.complete(ctx, order).await,
            (StoreEvent::ShippingFailed(_, reason), Variant::Hybrid | Variant::Naive) => {
                let record = self
                    .books
                    .with(|books| books.orders.get(&order).map(|r| r.order.clone()));
                if let Some(record) = record {
                    self.compensate(ctx, &record, reason.clone(), false).await;
                }
            }
            (StoreEvent::StockRefused(_, reason), Variant::Events) => {
                self.end(now, order, OrderState::Cancelled(reason.clone()));
            }
            (StoreEvent::PaymentDeclined(_, reason), Variant::Events) => {
                self.awaits(now, order, reason, &["release"]);
            }
            (StoreEvent::ShippingFailed(_, reason), Variant::Events) => {
                self.awaits(now, order, reason, &["refund", "release"]);
            }
            (StoreEvent::StockReleased(_), Variant::Events) => {
                self.confirmed(now, order, "release")
            }
            (StoreEvent::Refunded(_), Variant::Events) => self.confirmed(now, order, "refund"),
            _ => {}
        }
        Ok(())
    }

    /// The order failed: it is cancelled once `compensations` are confirmed.
    fn awaits(&self, now: Duration, order: OrderId, reason: &str, compensations: &[&'static str]) {
        self.books.with(|books| {
            if let Some(record) = books.orders.get_mut(&order)
                && record.needs.is_none()
            {
                record.needs = Some((reason.to_string(), compensations.iter().copied().collect()));
            }
        });
        self.cancel_if_compensated(now, order);
    }

    fn confirmed(&self, now: Duration, order: OrderId, compensation: &'static str) {
        self.books.with(|books| {
            if let Some(record) = books.orders.get_mut(&order) {
                record.confirmed.insert(compensation);
            }
        });
        self.cancel_if_compensated(now, order);
    }

    fn cancel_if_compensated(&self, now: Duration, order: OrderId) {
        let done = self.books.with(|books| {
            let record = books.orders.get(&order)?;
            let (reason, needs) = record.needs.as_ref()?;
            needs.is_subset(&record.confirmed).then(|| reason.clone())
        });
        if let Some(reason) = done {
            self.end(now, order, OrderState::Cancelled(reason));
        }
    }
}

impl Service for Checkout {
    type Request = CheckoutRequest;
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(
        &self,
        ctx: &Context<Self>,
        request: CheckoutRequest,
    ) -> Result<(), ServiceError> {
        match request {
            CheckoutRequest::Place(order) => self.place(ctx, order).await,
            CheckoutRequest::Compensate {
                order,
                reason,
                shipment,
            } => {
                self.compensate(ctx, &order, reason, shipment).await;
                Ok(())
            }
            CheckoutRequest::Republish(order) => {
                let Some(orders) = &self.peers.orders else {
                    return Ok(());
                };
                for _ in 0..COMPENSATION_ATTEMPTS {
                    let event = StoreEvent::OrderPlaced(order.clone());
                    if publish(ctx, &self.books, orders, event).await.is_ok() {
                        return Ok(());
                    }
                    ctx.work_for(COMPENSATION_BACKOFF).await;
                }
                Err(ServiceError::new("could not publish the order"))
            }
            CheckoutRequest::Event(event) => {
                self.on_event(ctx, &event).await?;
                mark_handled(&self.books, &event, ctx.service_name());
                Ok(())
            }
        }
    }
}

//! Connection and body limits that keep one peer from holding the server: a cap on connections
//! per peer address (enforced as each connection is accepted), and deadlines on reading request
//! bodies (no byte for `body_idle_timeout_secs`, or the whole body not in within
//! `body_timeout_secs` — uploads get `storage.upload_timeout_secs`). The global connection cap,
//! the header deadline and the keep-alive are actix-web's own settings (see `server::start`).

use std::{
    any::Any,
    collections::HashMap,
    future::Future,
    net::IpAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use actix_web::{
    dev::{Extensions, Payload},
    error::PayloadError,
    web::Bytes,
};
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

/// Open connections per peer address.
#[derive(Debug, Default)]
pub struct PeerTable {
    open: Mutex<HashMap<IpAddr, usize>>,
    cap: usize,
}

/// Held by a connection while it is open (in its connection-level extensions): dropping it
/// gives the slot back.
pub struct PeerSlot {
    table: Arc<PeerTable>,
    ip: IpAddr,
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
        metrics::gauge!("imo_http_connections_open").decrement(1.0);
    }
}

impl PeerTable {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            open: Mutex::default(),
            cap: cap.max(1),
        })
    }

    /// Takes a slot for `ip`, or `None` when the peer already holds `cap` connections.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<PeerSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        metrics::gauge!("imo_http_connections_open").increment(1.0);
        Some(PeerSlot {
            table: self.clone(),
            ip,
        })
    }

    /// Connections `ip` holds now.
    pub fn open(&self, ip: IpAddr) -> usize {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&ip)
            .copied()
            .unwrap_or(0)
    }
}

/// actix-web's `on_connect` hook: admits the connection or shuts its socket at once (the
/// server then sees end-of-stream and drops it, freeing its file descriptor before any byte of
/// the request is read).
pub fn on_connect(table: &Arc<PeerTable>, conn: &dyn Any, ext: &mut Extensions) {
    let Some(stream) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() else {
        return;
    };
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    match table.admit(peer.ip()) {
        Some(slot) => {
            ext.insert(slot);
        }
        None => {
            metrics::counter!("imo_http_connections_refused_total", "reason" => "per_peer")
                .increment(1);
            let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Deadlines for reading one request body.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadlines {
    /// No byte for this long ends the body with a timeout error.
    pub idle: Duration,
    /// The whole body must be in by then.
    pub total: Duration,
}

/// The error a body read fails with when a deadline passes (`408 request_timeout`).
pub fn is_body_timeout(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

/// A request body that fails with a timeout error once a deadline passes.
pub struct TimedPayload {
    inner: Payload,
    idle: Duration,
    idle_timer: Pin<Box<Sleep>>,
    total_timer: Pin<Box<Sleep>>,
    done: bool,
}

impl TimedPayload {
    pub fn new(inner: Payload, d: BodyDeadlines) -> Self {
        let now = Instant::now();
        Self {
            inner,
            idle: d.idle,
            idle_timer: Box::pin(tokio::time::sleep_until(now + d.idle)),
            total_timer: Box::pin(tokio::time::sleep_until(now + d.total)),
            done: false,
        }
    }
}

impl Stream for TimedPayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let next = Instant::now() + self.idle;
                self.idle_timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(other) => {
                self.done = other.is_none();
                Poll::Ready(other)
            }
            Poll::Pending => {
                let idle = self.idle_timer.as_mut().poll(cx).is_ready();
                let total = self.total_timer.as_mut().poll(cx).is_ready();
                if idle || total {
                    self.done = true;
                    let why = if total {
                        "the request body was not received in time"
                    } else {
                        "the request body stalled"
                    };
                    metrics::counter!("imo_http_body_timeouts_total").increment(1);
                    return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        why,
                    )))));
                }
                Poll::Pending
            }
        }
    }
}

//! A TCP proxy on loopback in front of an S3 server: it delays every response by a
//! settable amount (a slow store) and counts the object reads that go through it. It runs
//! on its own thread and runtime, so tests that block do not stall it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::loopback::LoopbackServer;

struct State {
    upstream: u16,
    delay_ms: AtomicU64,
    reads: AtomicU64,
    /// Counted in the requests: `GET /<bucket>/<organization>/`.
    pattern: Vec<u8>,
}

pub struct Proxy {
    pub port: u16,
    state: Arc<State>,
    _server: LoopbackServer,
}

impl Proxy {
    /// Forwards 127.0.0.1:`port` to 127.0.0.1:`upstream`; counts `GET`s of objects under
    /// `<bucket>/<organization>/`.
    pub fn start(upstream: u16, bucket: &str, organization: &str) -> Proxy {
        let state = Arc::new(State {
            upstream,
            delay_ms: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            pattern: format!("GET /{bucket}/{organization}/").into_bytes(),
        });
        let st = state.clone();
        let server = LoopbackServer::start(move |client| serve(client, st.clone()));
        Proxy {
            port: server.port,
            state,
            _server: server,
        }
    }

    /// Every response (headers and body) starts this much later.
    pub fn set_delay(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Object reads (GET requests) seen so far.
    pub fn reads(&self) -> u64 {
        self.state.reads.load(Ordering::SeqCst)
    }

    /// The `--blockstore` value of `bucket` through this proxy.
    pub fn blockstore(&self, bucket: &str, key: &str, secret: &str) -> String {
        format!(
            r"s3:http\://127.0.0.1\:{}:garage:{bucket}:{key}:{secret}",
            self.port
        )
    }
}

async fn serve(client: TcpStream, state: Arc<State>) {
    let Ok(upstream) = TcpStream::connect(("127.0.0.1", state.upstream)).await else {
        return; // the client sees the connection closed, as with a dead store
    };
    // As a store's own socket would: no Nagle delay on small writes.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut up_read, mut up_write) = upstream.into_split();
    // Set when a request went up and its response has not started yet.
    let awaiting = Arc::new(AtomicBool::new(false));
    let awaiting_up = awaiting.clone();
    let st = state.clone();
    let requests = async move {
        let mut buf = vec![0u8; 16 * 1024];
        // The end of the previous read, so that a request line cut in two is still counted.
        let mut carry: Vec<u8> = Vec::new();
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut window = std::mem::take(&mut carry);
            window.extend_from_slice(&buf[..n]);
            let found = window
                .windows(st.pattern.len())
                .filter(|w| *w == st.pattern.as_slice())
                .count();
            st.reads.fetch_add(found as u64, Ordering::SeqCst);
            let keep = st.pattern.len() - 1;
            carry = window[window.len().saturating_sub(keep)..].to_vec();
            awaiting_up.store(true, Ordering::SeqCst);
            if up_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = up_write.shutdown().await;
    };
    let responses = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match up_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if awaiting.swap(false, Ordering::SeqCst) {
                let ms = state.delay_ms.load(Ordering::SeqCst);
                if ms > 0 {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(requests, responses);
}

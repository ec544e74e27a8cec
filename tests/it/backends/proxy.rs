//! A TCP proxy on 127.0.0.1 that stands between litestream and a storage server and breaks the
//! network on command (this kernel has no `netem`):
//!
//! - [`Proxy::hold`]: nothing crosses; open connections stay open and silent, new ones are
//!   accepted but never reach the server (a stall, or a partition while it lasts);
//! - [`Proxy::reset`]: every open connection is closed with a TCP RST (what the end of a long
//!   partition, a NAT timeout or a restarted load balancer looks like to the client);
//! - [`Proxy::release`]: traffic flows again.
//!
//! Its threads end when the proxy is dropped.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How often a pump looks at the proxy's state while it waits.
const TICK: Duration = Duration::from_millis(20);

#[derive(Default)]
struct State {
    holding: AtomicBool,
    /// Bumped by `reset`: a connection opened in an older generation is reset.
    generation: AtomicU64,
    closed: AtomicBool,
}

pub struct Proxy {
    addr: SocketAddr,
    state: Arc<State>,
}

impl Proxy {
    /// Forwards connections made to the returned proxy's address to `upstream`.
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let upstream: SocketAddr = upstream.parse().unwrap();
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            while !shared.closed.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let state = Arc::clone(&shared);
                        std::thread::spawn(move || connect(client, upstream, &state));
                    }
                    Err(error) if error.kind() == ErrorKind::WouldBlock => std::thread::sleep(TICK),
                    Err(_) => std::thread::sleep(TICK),
                }
            }
        });
        Proxy { addr, state }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn hold(&self) {
        self.state.holding.store(true, Ordering::SeqCst);
    }

    pub fn release(&self) {
        self.state.holding.store(false, Ordering::SeqCst);
    }

    pub fn reset(&self) {
        self.state.generation.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.closed.store(true, Ordering::SeqCst);
        self.reset();
    }
}

/// One client connection: reaches the server once traffic flows, then two pumps.
fn connect(client: TcpStream, upstream: SocketAddr, state: &Arc<State>) {
    let generation = state.generation.load(Ordering::SeqCst);
    while state.holding.load(Ordering::SeqCst) {
        if state.generation.load(Ordering::SeqCst) != generation || state.closed.load(Ordering::SeqCst) {
            return abort(&client);
        }
        std::thread::sleep(TICK);
    }
    let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) else {
        return abort(&client);
    };
    let (client2, server2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = {
        let state = Arc::clone(state);
        std::thread::spawn(move || pump(client2, server2, &state, generation))
    };
    pump(server, client, state, generation);
    let _ = up.join();
}

/// Copies `from` to `to` while traffic flows, holds while it is held, resets both on `reset`.
fn pump(mut from: TcpStream, mut to: TcpStream, state: &State, generation: u64) {
    from.set_read_timeout(Some(TICK)).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if state.generation.load(Ordering::SeqCst) != generation || state.closed.load(Ordering::SeqCst) {
            abort(&from);
            abort(&to);
            return;
        }
        if state.holding.load(Ordering::SeqCst) {
            std::thread::sleep(TICK);
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                abort(&to);
                return;
            }
        }
    }
}

/// Makes the close of `stream` (when its last handle drops, right after) a RST: SO_LINGER 0.
fn abort(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: setsockopt on a socket this thread owns, with a correctly sized `linger`.
    #[allow(unsafe_code)]
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

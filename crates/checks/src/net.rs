//! Name resolution, TCP connects and error wording shared by the probes.

use std::io;
use std::net::SocketAddr;
use tokio::net::TcpStream;

/// Settings allow `[::1]`; the socket APIs want the bare address.
pub(crate) fn bare_host(host: &str) -> &str {
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host)
}

/// Resolves `host` with the system resolver (as the OS would for any client).
pub(crate) async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let host = bare_host(host);
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() { Err(format!("cannot resolve {host}: no addresses")) } else { Ok(addrs) }
        }
        Err(e) => Err(format!("cannot resolve {host}: {e}")),
    }
}

/// Connects to the first address that accepts, like browsers and curl do; the error is that of
/// the last address tried.
pub(crate) async fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, io::Error> {
    let mut last = io::Error::new(io::ErrorKind::AddrNotAvailable, "no address to connect to");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Short, lower-case words for the network errors people see most; None for the rest.
pub(crate) fn io_kind_words(e: &io::Error) -> Option<&'static str> {
    use io::ErrorKind::*;
    Some(match e.kind() {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset by peer",
        ConnectionAborted => "connection aborted",
        TimedOut => "connection timed out",
        HostUnreachable => "host unreachable",
        NetworkUnreachable => "network unreachable",
        AddrNotAvailable => "address not available",
        UnexpectedEof => "connection closed by peer",
        BrokenPipe => "connection closed by peer",
        _ => return None,
    })
}

pub(crate) fn describe_io(e: &io::Error) -> String {
    io_kind_words(e).map_or_else(|| e.to_string(), str::to_owned)
}

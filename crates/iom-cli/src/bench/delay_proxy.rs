//! A TCP proxy that puts a database "further away": every chunk read on either side is written
//! to the other side `one_way` later. It is a delay line, not a sleep per read: reading goes on
//! while earlier chunks wait for their time, so the stream keeps its order and its throughput and
//! only gains latency. A round trip through it (a query and its answer) takes `2 × one_way` more.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Chunks in flight per direction before reading waits for writing: far more than the bytes a
/// database connection has in flight within a few milliseconds.
const IN_FLIGHT: usize = 4096;

/// A running proxy; it stops accepting when dropped (open connections end with their peers).
pub struct DelayProxy {
    addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl DelayProxy {
    /// Listens on an unused local port and forwards every connection to `upstream`
    /// (`host:port`), each direction delayed by `one_way`.
    pub async fn start(upstream: String, one_way: Duration) -> anyhow::Result<DelayProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("delay proxy: binding a local port")?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    match TcpStream::connect(&upstream).await {
                        Ok(server) => pipe(client, server, one_way),
                        Err(e) => eprintln!("delay proxy: connecting to {upstream}: {e}"),
                    }
                });
            }
        });
        Ok(DelayProxy { addr, accept })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

fn pipe(client: TcpStream, server: TcpStream, one_way: Duration) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    delay_line(client_read, server_write, one_way);
    delay_line(server_read, client_write, one_way);
}

/// One direction: a reader stamping each chunk with the time it is due, and a writer sending it
/// then. Ends (shutting the write side) after the reader's end of stream has been delivered.
fn delay_line(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT);
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let due = Instant::now() + delay;
                    if tx.send((due, buffer[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server behind the proxy: a ping's round trip gains twice the one-way delay, and
    /// many chunks written back to back come back whole and in order, without each one waiting
    /// for the previous (which would take chunks × delay).
    async fn round_trip(stream: &mut TcpStream) -> Duration {
        let started = std::time::Instant::now();
        stream.write_all(b"ping").await.unwrap();
        let mut answer = [0u8; 4];
        stream.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"ping");
        started.elapsed()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn adds_the_delay_and_keeps_bytes_in_order() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo_addr = echo.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = stream.into_split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        let one_way = Duration::from_millis(20);
        let proxy = DelayProxy::start(echo_addr.to_string(), one_way)
            .await
            .unwrap();

        let mut direct = TcpStream::connect(echo_addr).await.unwrap();
        let mut proxied = TcpStream::connect(proxy.addr()).await.unwrap();
        direct.set_nodelay(true).unwrap();
        proxied.set_nodelay(true).unwrap();
        let base = round_trip(&mut direct).await;
        for _ in 0..5 {
            let through = round_trip(&mut proxied).await;
            assert!(
                through >= 2 * one_way && through < 2 * one_way + base + Duration::from_millis(15),
                "round trip {through:?} through a {one_way:?} one-way proxy (direct {base:?})"
            );
        }

        // 2,000 chunks of 1 KiB, each with its number, written without waiting for answers.
        let (mut r, mut w) = proxied.into_split();
        let chunks = 2_000usize;
        let started = std::time::Instant::now();
        let writer = tokio::spawn(async move {
            for i in 0..chunks {
                let mut chunk = vec![(i % 251) as u8; 1024];
                chunk[..8].copy_from_slice(&(i as u64).to_be_bytes());
                w.write_all(&chunk).await.unwrap();
                if i % 100 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            w
        });
        let mut received = vec![0u8; chunks * 1024];
        r.read_exact(&mut received).await.unwrap();
        let elapsed = started.elapsed();
        let _w = writer.await.unwrap();
        for (i, chunk) in received.chunks(1024).enumerate() {
            assert_eq!(u64::from_be_bytes(chunk[..8].try_into().unwrap()), i as u64);
            assert!(
                chunk[8..].iter().all(|b| *b == (i % 251) as u8),
                "chunk {i}"
            );
        }
        assert!(
            elapsed < Duration::from_secs(2),
            "{chunks} chunks took {elapsed:?}: the proxy serialised the delays"
        );
    }
}

//! A stand-in for a service csms calls over HTTP (an OCSP responder, a certificate provisioning
//! service): on 127.0.0.1 and a random port, it answers every request with what `answer` makes of
//! its body, and keeps the bodies it was sent.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the stand-in answers: HTTP status, content type, body.
pub type Answer = (u16, &'static str, Vec<u8>);

pub struct StandIn {
    /// `http://127.0.0.1:PORT/PATH`
    pub url: String,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl StandIn {
    /// Serves `path` (any path, in fact) with `answer`.
    pub async fn start(
        path: &str,
        answer: impl Fn(&[u8]) -> Answer + Send + Sync + 'static,
    ) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{path}", listener.local_addr().unwrap());
        let bodies: Arc<Mutex<Vec<Vec<u8>>>> = Default::default();
        let (kept, answer) = (bodies.clone(), Arc::new(answer));
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (kept, answer) = (kept.clone(), answer.clone());
                tokio::spawn(async move {
                    let Some(body) = read_request(&mut socket).await else {
                        return;
                    };
                    let (status, kind, reply) = answer(&body);
                    kept.lock().unwrap().push(body);
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        reply.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&reply).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        StandIn { url, bodies, task }
    }

    /// The bodies of the requests so far, oldest first.
    pub fn bodies(&self) -> Vec<Vec<u8>> {
        self.bodies.lock().unwrap().clone()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request's body (by its Content-Length).
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(at)) = req.parse(&buf) {
            let length = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                .unwrap_or(0usize);
            while buf.len() < at + length {
                let n = socket.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(buf[at..at + length].to_vec());
        }
    }
}

/// A stand-in that lives as long as the test process, on a thread of its own (for settings made
/// outside any runtime, shared by every server of the process): its URL.
pub fn for_the_process(
    path: &'static str,
    answer: impl Fn(&[u8]) -> Answer + Send + Sync + 'static,
) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let stand_in = StandIn::start(path, answer).await;
            tx.send(stand_in.url.clone()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}
